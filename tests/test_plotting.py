"""Learning curves: sklstm.plotting.plot_history."""

import math
import sys

import numpy as np
import pytest
from corpora import TINY
from sklearn.exceptions import NotFittedError

from sklstm import LSTMTextGenerator

pytest.importorskip("matplotlib")

from sklstm.plotting import plot_history  # noqa: E402

DOCS = [
    "the cat sat on the mat. the dog sat on the log.\n" * 4,
    "a bird sang in the tree while the cat slept.\n" * 4,
    "the dog ran to the log and the cat ran away.\n" * 4,
]


@pytest.fixture(scope="module")
def model():
    return LSTMTextGenerator(**dict(TINY, epochs=3, validation_fraction=0.34)).fit(DOCS)


def lines_by_label(ax):
    """The labelled lines (the dotted best-epoch line has no label)."""
    lines = ax.get_lines()
    return {line.get_label(): line for line in lines if line.get_label()[0] != "_"}


def test_saves_a_png_of_the_training_and_validation_loss(model, tmp_path):
    path = tmp_path / "curves.png"
    figure = plot_history(model, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 0
    ax = figure.axes[0]
    lines = lines_by_label(ax)
    epochs = [1, 2, 3]
    for label, key in (("training", "loss"), ("validation", "val_loss")):
        assert lines[label].get_xdata().tolist() == epochs
        assert lines[label].get_ydata().tolist() == model.history_[key]
    best = model.best_epoch_
    marker = lines[f"best epoch ({best + 1})"]
    assert marker.get_xdata().tolist() == [best + 1]
    assert marker.get_ydata().tolist() == [model.history_["val_loss"][best]]
    assert ax.get_xlabel() == "epoch"
    assert ax.get_ylabel() == "loss (nats per character)"
    (bits,) = ax.child_axes  # the second y axis: the same curves in bits
    assert bits.get_ylabel() == "bits per character"
    low, high = ax.get_ylim()
    assert bits.get_ylim() == pytest.approx((low / math.log(2), high / math.log(2)))


def test_draws_on_given_axes_without_pyplot_figures(model):
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    before = plt.get_fignums()
    figure = plot_history(model)  # a figure of its own, not in pyplot
    assert plt.get_fignums() == before
    assert isinstance(figure, Figure)

    mine = Figure()
    left, right = mine.subplots(1, 2)
    assert plot_history(model, ax=right) is mine
    assert not left.get_lines() and right.get_lines()


def test_other_levels_plot_bits_per_token(tiny_word_pipeline):
    ax = plot_history(tiny_word_pipeline).axes[0]
    assert ax.get_ylabel() == "loss (nats per token)"
    assert ax.child_axes[0].get_ylabel() == "bits per token"
    assert "validation" not in lines_by_label(ax)  # none was held out
    assert "best epoch (1)" in lines_by_label(ax)


def test_a_history_dict_marks_its_lowest_validation_loss(tmp_path):
    history = {"loss": [3.0, 2.0, 1.5, 1.2], "val_loss": [3.1, 2.2, 2.4, np.nan]}
    ax = plot_history(history, tmp_path / "h.png").axes[0]
    lines = lines_by_label(ax)
    assert lines["training"].get_ydata().tolist() == history["loss"]
    assert lines["best epoch (2)"].get_ydata().tolist() == [2.2]
    assert ax.child_axes[0].get_ylabel() == "bits per token"
    assert (tmp_path / "h.png").stat().st_size > 0

    lines = lines_by_label(plot_history({"loss": [2.0, 1.0]}).axes[0])
    assert set(lines) == {"training", "best epoch (2)"}


def test_bad_input_is_refused(model):
    with pytest.raises(TypeError, match="history dict"):
        plot_history("not a model")
    with pytest.raises(NotFittedError, match="^This LSTMTextGenerator instance is not"):
        plot_history(LSTMTextGenerator())  # not fitted
    with pytest.raises(ValueError, match="no loss to plot"):
        plot_history({"accuracy": [0.5]})


def test_missing_matplotlib_says_how_to_install_it(model, monkeypatch):
    for name in list(sys.modules):
        if name == "matplotlib" or name.startswith("matplotlib."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import fails
    with pytest.raises(ImportError, match=r'pip install "sklstm\[plot\]"'):
        plot_history(model)
