"""Every example runs (with small settings), so none can rot."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name, *args, cwd):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.mark.slow
def test_char_example_trains_generates_and_saves(tmp_path):
    out = run_example(
        "char_python_docs.py", "--epochs", "1", "--units", "16",
        "--output", "model.sklstm", cwd=tmp_path,
    )  # fmt: skip
    assert "Trained 1 epochs" in out
    assert out.count("--- temperature") == 3
    assert (tmp_path / "model.sklstm").stat().st_size > 0


@pytest.mark.slow
def test_classic_word_recipe_example_runs(tmp_path):
    out = run_example("classic_word_recipe.py", "--epochs", "1", cwd=tmp_path)
    assert "Held-out cross-entropy" in out
    assert "--- greedy ---" in out
