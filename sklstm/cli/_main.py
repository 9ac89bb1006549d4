"""The argument parser of ``sklstm`` and :func:`main`, its entry point."""

from __future__ import annotations

import argparse
import os
import sys
import warnings

from sklstm.cli._evaluate import add_evaluate_parser
from sklstm.cli._generate import add_generate_parser
from sklstm.cli._info import add_info_parser
from sklstm.cli._options import library_defaults
from sklstm.cli._plot import add_plot_parser
from sklstm.cli._serve import add_serve_parser
from sklstm.cli._shared import PROG, UsageError, UserError, print_error, warning_printer
from sklstm.cli._train import add_train_parser

COMMANDS = ("train", "generate", "evaluate", "info", "plot", "serve")


def build_parser(command=None):
    """The argument parser.

    The library defaults shown in the help of ``train`` and ``generate``
    need TensorFlow, so they are looked up only when ``command`` is one of
    them; other commands start faster.
    """
    lib = library_defaults() if command in ("train", "generate") else None
    from sklstm import __version__

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Train LSTM text generators, generate text, evaluate and "
        "inspect models.",
        epilog="examples:\n"
        "  sklstm train corpus/ -o corpus.sklstm\n"
        '  sklstm generate corpus.sklstm "The " --temperature 0.7\n'
        "  sklstm evaluate corpus.sklstm held_out/\n"
        "  sklstm info corpus.sklstm\n"
        "  sklstm plot corpus.sklstm -o curves.png\n"
        "  sklstm serve corpus.sklstm --port 8000\n\n"
        "Run 'sklstm COMMAND --help' for the options of a command.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    parser.commands = {
        "train": add_train_parser(subparsers, lib),
        "generate": add_generate_parser(subparsers, lib),
        "evaluate": add_evaluate_parser(subparsers),
        "info": add_info_parser(subparsers),
        "plot": add_plot_parser(subparsers),
        "serve": add_serve_parser(subparsers),
    }
    return parser


def main(argv=None):
    """Run the ``sklstm`` command line; return the exit status.

    0 on success, 1 on errors (a missing or damaged file, invalid values),
    2 on usage errors, 130 when interrupted before anything was trained.
    """
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    command = argv[0] if argv and argv[0] in COMMANDS else None
    try:
        parser = build_parser(command)
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else 2
    except KeyboardInterrupt:  # while TensorFlow loads
        print_error(command, "error", "interrupted")
        return 130
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warnings.simplefilter("always", UserWarning)
        warnings.simplefilter("always", RuntimeWarning)
        warnings.showwarning = warning_printer(args.command)
        try:
            return args.func(args)
        except UsageError as exc:
            parser.commands[args.command].print_usage(sys.stderr)
            print_error(args.command, "error", str(exc))
            return 2
        except UserError as exc:
            print_error(args.command, "error", str(exc))
        except (ValueError, TypeError) as exc:
            print_error(args.command, "error", str(exc))
        except BrokenPipeError:
            # The reader went away (``| head``): stop quietly.
            try:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
            except (OSError, ValueError):  # stdout is no file descriptor
                pass
            return 141
        except FileNotFoundError as exc:
            print_error(args.command, "error", f"{exc.filename!r}: no such file")
        except OSError as exc:
            name = f"{exc.filename!r}: " if exc.filename else ""
            print_error(args.command, "error", f"{name}{exc.strerror or exc}")
        except KeyboardInterrupt:
            sys.stdout.write("\n")
            print_error(args.command, "error", "interrupted")
            return 130
        return 1
