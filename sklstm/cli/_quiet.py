"""TensorFlow's start-up log lines, kept off the terminal of ``sklstm``."""

from __future__ import annotations

import os
import re
import sys
import tempfile

# A line of TensorFlow's C++ log: severity letter, date, time, thread, file.
_TF_LOG_LINE = re.compile(rb"([IWEF])\d{4} [\d:.]+ +\d+ \S+:\d+\] ")

_TF_SEVERITY = {b"I": 0, b"W": 1, b"E": 2, b"F": 3}

_ABSL_PREAMBLE = b"WARNING: All log messages before absl::InitializeLog() is called"


def _tf_log_level():
    """TF_CPP_MIN_LOG_LEVEL as a number (0, everything, when unreadable)."""
    try:
        return int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0"))
    except ValueError:
        return 0


def _kept_log_lines(data, level):
    """The lines of ``data`` (bytes written to stderr) at ``level`` or above."""
    kept = []
    for line in data.splitlines(keepends=True):
        match = _TF_LOG_LINE.match(line)
        if match and _TF_SEVERITY[match.group(1)] < level:
            continue
        if line.startswith(_ABSL_PREAMBLE) and level >= 1:
            continue
        kept.append(line)
    return b"".join(kept)


def quiet_tensorflow():
    """Import TensorFlow without its start-up log lines below the log level.

    ``TF_CPP_MIN_LOG_LEVEL`` is 2 (errors only) unless the user set it.
    TensorFlow writes some lines ("oneDNN custom operations are on", "Could
    not find cuda drivers") before its logging reads that variable, so they
    are caught from the standard error while it loads, and the lines at or
    above the level are written out again.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    level = _tf_log_level()
    if "tensorflow" in sys.modules or level <= 0:
        return
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no standard error to catch
        return
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            kept = _kept_log_lines(caught.read(), level)
            if kept:
                os.write(2, kept)
