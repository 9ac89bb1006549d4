"""TensorFlow's start-up log lines, kept off the terminal of ``sklstm``."""

import os
import subprocess
import sys

from helpers import ROOT

TF_START_UP = ("oneDNN custom operations", "cuda drivers", "absl::InitializeLog")


def _python_m_sklstm(*argv, level=None):
    env = dict(os.environ)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    if level is not None:
        env["TF_CPP_MIN_LOG_LEVEL"] = level
    return subprocess.run(
        [sys.executable, "-m", "sklstm", *map(str, argv)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env=env,
    )


def test_tensorflows_start_up_lines_do_not_reach_the_terminal(trained):
    # ``info`` loads a model, ``generate --help`` the library's defaults:
    # both import TensorFlow.
    for argv in (["info", trained[0]], ["generate", "--help"]):
        result = _python_m_sklstm(*argv)
        assert result.returncode == 0, result.stderr
        assert not [line for line in TF_START_UP if line in result.stderr]
        assert result.stdout


def test_a_users_own_tensorflow_log_level_is_respected():
    result = _python_m_sklstm("generate", "--help", level="0")
    assert result.returncode == 0, result.stderr
    assert any(line in result.stderr for line in TF_START_UP)
    assert "usage: sklstm generate" in result.stdout
