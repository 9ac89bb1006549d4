"""Learning curves of a fitted :class:`~sklstm.LSTMTextGenerator`.

Needs matplotlib, an optional dependency: ``pip install "sklstm[plot]"``.
Nothing here opens a window or calls ``pyplot.show``: figures are drawn on
matplotlib's ``Agg`` canvas unless you pass an ``ax`` of your own, so
plotting works on machines without a display.
"""

from __future__ import annotations

import math
import os

__all__ = ["plot_history"]

_LN2 = math.log(2)


def _import_figure():
    """matplotlib's ``Figure`` class, or an ImportError saying how to get it."""
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(
            "plot_history needs matplotlib, which is not installed. Install it "
            'with: pip install "sklstm[plot]"'
        ) from exc
    return Figure


def _history_of(estimator_or_history):
    """(history, best epoch or None, level or None) of what was passed."""
    if isinstance(estimator_or_history, dict):
        history = estimator_or_history
        return history, None, None
    from sklstm._resolve import resolve

    lm = resolve(
        estimator_or_history,
        "plot_history",
        also="a history dict such as model.history_",
    )
    level = None if lm.sequencer is None else lm.sequencer.level
    return lm.generator.history_, lm.generator.best_epoch_, level


def plot_history(estimator_or_history, path=None, ax=None):
    """Plot learning curves: loss per epoch, in nats and in bits.

    Draws the training loss and, when the model was validated, the
    validation loss of every epoch (natural log, as in ``history_``), with
    a second y axis in bits: bits per character at char level (the loss
    divided by ln 2), bits per token at word and subword level, where each
    token spans several characters. A dotted line and a ring mark the best
    epoch, whose weights the model holds (``best_epoch_``).

    Parameters
    ----------
    estimator_or_history : LSTMTextGenerator, Pipeline, fitted search or dict
        A fitted model (or a Pipeline ending in one, or a fitted search,
        whose ``best_estimator_`` is used), or a history dict such as
        ``model.history_``. For a dict the best epoch is the one with the
        lowest validation loss (training loss without validation), and the
        second axis is in bits per token.
    path : str, os.PathLike or None, default=None
        Save the figure there as a PNG (or in the format the file name's
        suffix names, such as ``.svg`` or ``.pdf``).
    ax : matplotlib Axes or None, default=None
        Axes to draw on. None draws on a new figure that is not registered
        with ``matplotlib.pyplot``, so it opens no window and needs no
        display; to show the curves in a window, pass
        ``ax=plt.subplots()[1]`` and call ``plt.show()`` yourself.

    Returns
    -------
    figure : matplotlib.figure.Figure
        The figure holding the curves.

    Raises
    ------
    ImportError
        When matplotlib is not installed.

    Examples
    --------
    >>> from sklstm import LSTMTextGenerator
    >>> from sklstm.plotting import plot_history
    >>> docs = ["the cat sat on the mat. " * 10, "the dog sat on the log. " * 10]
    >>> model = LSTMTextGenerator(units=8, embedding_dim=4, sequence_length=10,
    ...                           epochs=2, random_state=0).fit(docs)
    >>> fig = plot_history(model)
    >>> ax = fig.axes[0]
    >>> [text.get_text() for text in ax.get_legend().get_texts()]
    ['training', 'validation', 'best epoch (...)']
    >>> ax.get_lines()[0].get_ydata().tolist() == model.history_["loss"]
    True

    Saving to a file: ``plot_history(model, "curves.png")``.
    """
    Figure = _import_figure()
    from matplotlib.ticker import MaxNLocator

    history, best, level = _history_of(estimator_or_history)
    train = [float(v) for v in history.get("loss", [])]
    val = [float(v) for v in history.get("val_loss", [])]
    if not train and not val:
        raise ValueError(
            "plot_history found no loss to plot: the history has no 'loss' or "
            "'val_loss' values (was the model trained?)."
        )
    monitored = val or train
    if best is None or not 0 <= best < len(monitored):
        finite = [(v, e) for e, v in enumerate(monitored) if math.isfinite(v)]
        best = min(finite)[1] if finite else None

    if ax is None:
        figure = Figure(figsize=(6.4, 4.0), layout="constrained")
        ax = figure.add_subplot()
    else:
        figure = ax.get_figure()
    epochs = range(1, max(len(train), len(val)) + 1)
    if train:
        ax.plot(epochs[: len(train)], train, "o-", ms=3, label="training")
    if val:
        ax.plot(epochs[: len(val)], val, "s-", ms=3, label="validation")
    if best is not None:
        ax.axvline(best + 1, color="0.5", linestyle=":", linewidth=1)
        ax.plot(
            [best + 1],
            [monitored[best]],
            "o",
            ms=10,
            mfc="none",
            color="black",
            label=f"best epoch ({best + 1})",
        )
    unit = "character" if level == "char" else "token"
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"loss (nats per {unit})")
    bits = ax.secondary_yaxis(
        "right", functions=(lambda nats: nats / _LN2, lambda b: b * _LN2)
    )
    bits.set_ylabel(f"bits per {unit}")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, alpha=0.3)
    ax.legend()
    ax.set_title("Learning curves")
    if path is not None:
        figure.savefig(os.fspath(path), dpi=100)
    return figure
