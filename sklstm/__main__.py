"""``python -m sklstm``: the ``sklstm`` command line."""

from sklstm.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
