"""Small helpers shared by test modules of several folders.

Each is imported under the name its tests have always used (``run``,
``tiny``, ...), so a moved test reads as it did in the module it came from.
"""

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

from corpora import KERNEL_FIT, QUICK, TINY

from sklstm import LSTMTextGenerator
from sklstm.cli import main

# The checkout: the folder above tests/.
ROOT = Path(__file__).resolve().parent.parent


# ------------------------------------------------------------ the command line
def run(*argv):
    """``main(argv)`` with its output captured: (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(a) for a in argv])
    return status, out.getvalue(), err.getvalue()


def assert_user_error(status, err, command):
    assert status == 1
    assert err.startswith(f"sklstm {command}: error: ")
    assert "Traceback" not in err


# ------------------------------------------------------------------ the server
KEY = "test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}


def complete(client, **body):
    reply = client.post("/v1/completions", json=body)
    assert reply.status_code == 200, reply.text
    return reply.json()


def sse_payloads(lines):
    """The ``data:`` payloads of server-sent event lines, in order."""
    payloads = [line[len("data: ") :] for line in lines if line]
    assert all(line.startswith("data: ") for line in lines if line)
    return payloads


# ------------------------------------------------------------------ estimators
def tiny_generator(**params):
    return LSTMTextGenerator(**{**TINY, **params})


def kernel_fit(kernel, docs, **params):
    """A model of ``KERNEL_FIT`` fitted on ``docs`` with ``training_kernel``."""
    params = {**KERNEL_FIT, **params}
    return LSTMTextGenerator(training_kernel=kernel, **params).fit(docs)


def quick_generator(**params):
    return LSTMTextGenerator(**{**QUICK, **params})


# ------------------------------------------------------------ fresh processes
def run_python(*args, cwd, timeout=600):
    """Run ``python ARGS`` in a fresh process in ``cwd``, TensorFlow's start-up
    lines off; assert that it succeeded and return its standard output."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    result = subprocess.run(
        [sys.executable, *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout
