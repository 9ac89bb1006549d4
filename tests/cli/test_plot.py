"""``sklstm plot``: a model's learning curves saved as an image."""

import sys

import pytest
from helpers import assert_user_error, run


def test_plot_saves_the_learning_curves(trained, model, tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "curves.png"
    status, out, err = run("plot", trained[0], "-o", path)
    assert status == 0, err
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out == (
        f"Saved the learning curves of 2 epochs (best: epoch "
        f"{model.best_epoch_ + 1}) to {path}\n"
    )
    status, _, err = run("plot", trained[0], "-o", tmp_path / "curves.nope")
    assert_user_error(status, err, "plot")
    assert "not supported" in err


def test_plot_refuses_pickles_and_needs_matplotlib(word_joblib, tmp_path, monkeypatch):
    status, _, err = run("plot", word_joblib, "-o", tmp_path / "c.png")
    assert_user_error(status, err, "plot")
    assert "--trust-pickle" in err
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    status, _, err = run("plot", word_joblib, "-o", tmp_path / "c.png")
    assert_user_error(status, err, "plot")
    assert 'pip install "sklstm[plot]"' in err
    assert not (tmp_path / "c.png").exists()
