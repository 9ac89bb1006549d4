"""Set up a local virtual environment and run the demo or the tests.

Usage (any Python 3.10+, nothing else needed)::

    python3 tasks.py demo    # train on the embedded corpus, generate, save
    python3 tasks.py test    # run the whole test suite

The tests run on one pytest-xdist worker per core (at most 4) unless the
arguments choose otherwise (``-n 0`` runs them in this process). Both
create ``.venv`` beside this file on first use and reinstall sklstm
into it whenever ``pyproject.toml`` changes. Extra arguments go to the demo
script or to pytest.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
DEMO = ROOT / "examples" / "char_python_docs.py"


def _run(*cmd):
    env = dict(
        os.environ, TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")
    )
    return subprocess.call([str(c) for c in cmd], cwd=ROOT, env=env)


def ensure_env(extra):
    """Create ``.venv`` and install ``sklstm[extra]`` unless already current."""
    if sys.version_info < (3, 10):  # noqa: UP036 - runs on the system Python
        sys.exit(
            f"sklstm needs Python 3.10 or newer; this is {sys.version.split()[0]}."
        )
    if not PYTHON.exists():
        print(f"Creating a virtual environment in {VENV.name}/ ...", flush=True)
        try:
            venv.create(VENV, with_pip=True)
        except Exception as exc:  # noqa: BLE001 - report any failure plainly
            sys.exit(
                f"Could not create a virtual environment ({exc}). On Debian or "
                "Ubuntu install the venv module first: apt-get install python3-venv"
            )
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    stamp = VENV / f".installed-{extra}"
    if stamp.exists() and stamp.read_text() == digest:
        return
    print(f"Installing sklstm[{extra}] and its dependencies ...", flush=True)
    steps = [
        (PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip"),
        (PYTHON, "-m", "pip", "install", "--quiet", "-e", f".[{extra}]"),
    ]
    for cmd in steps:
        if _run(*cmd) != 0:
            sys.exit(f"Installation failed: {' '.join(map(str, cmd))}")
    stamp.write_text(digest)


def main(argv):
    if not argv or argv[0] not in ("demo", "test"):
        sys.exit(__doc__)
    task, rest = argv[0], argv[1:]
    if task == "demo":
        ensure_env("test")
        return _run(PYTHON, DEMO, *rest)
    ensure_env("test")
    return _run(PYTHON, "-m", "pytest", *_workers(rest), *rest)


def _workers(args):
    """pytest-xdist options: one worker per core, at most 4, unless the
    arguments choose (``-n``/``--numprocesses``, or ``-p no:xdist``)."""
    chosen = ("-n", "--numprocesses", "no:xdist", "--pdb", "--trace")
    if any(a.startswith(chosen) for a in args):
        return []
    return ["-n", str(min(os.cpu_count() or 1, 4)), "--dist", "worksteal"]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
