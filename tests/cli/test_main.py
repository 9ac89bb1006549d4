"""The ``sklstm`` command: its help, usage errors and ways to start it."""

import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT, run_python

import sklstm
from sklstm.cli import main


def test_help_lists_every_command(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("train", "generate", "evaluate", "info", "plot"):
        assert command in out
    assert "examples:" in out


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["fly"],
        ["train", "--epochs", "many"],
        ["train", "--units", "8,x"],
        ["generate"],
        ["generate", "m.sklstm", "--temperature", "hot"],
        ["info", "m.sklstm", "--colour"],
    ],
)
def test_usage_errors_exit_with_2(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "usage: sklstm" in err and "Traceback" not in err


def test_python_m_sklstm_runs_the_command_line():
    out = run_python("-m", "sklstm", "--help", cwd=ROOT, timeout=300)
    assert "usage: sklstm" in out


def test_console_script_runs_the_command_line():
    script = Path(sys.executable).parent / "sklstm"
    if not script.exists():
        pytest.skip("the sklstm console script is not installed")
    result = subprocess.run(
        [str(script), "info", "--help"], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert "usage: sklstm info" in result.stdout


def test_main_reads_sys_argv(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["sklstm", "--version"])
    assert main() == 0
    assert capsys.readouterr().out.strip() == f"sklstm {sklstm.__version__}"
