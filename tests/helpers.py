"""Small helpers shared by test modules of several folders.

Each is imported under the name its tests have always used (``run``,
``tiny``, ...), so a moved test reads as it did in the module it came from.
"""

import contextlib
import io
from pathlib import Path

from corpora import TINY

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


def quick_generator(**params):
    base = dict(
        embedding_dim=4,
        units=12,
        sequence_length=10,
        epochs=2,
        validation_fraction=0,
        early_stopping=False,
        random_state=0,
    )
    return LSTMTextGenerator(**{**base, **params})
