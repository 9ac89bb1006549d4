"""A safe file format for sharing fitted models: no pickle, no code.

``LSTMTextGenerator.save(path)`` writes one zip file holding

- ``model.keras``: the Keras archive of the network (weights, architecture,
  optimizer state);
- ``sklstm.json``: the estimator's parameters, its fitted attributes (the
  vocabulary, at subword level with the tokenizer's own JSON, the training
  history and the rest) and the versions that wrote it.

:func:`load` reads it back without unpickling anything: the JSON is plain
data, and the network is loaded with Keras ``safe_mode=True`` after checking
that it only holds the layer classes sklstm builds (a ``Lambda`` layer or any
other class is refused). Files are written to a temporary name and renamed,
so a crash never leaves a half-written file where a good one was.

Format version 3 adds the fitted attributes ``stateful_``, ``training_time_``
and ``training_kernel_``; version 2 added subword sequencers
(``TextSequencer(level="subword")``, its ``vocab_size`` parameter and the
tokenizer's JSON). Files of versions 1 and 2 still load (without the
attributes they do not hold); a newer version is refused with a message to
upgrade. The fitted attributes saved are those :mod:`sklstm._state` declares;
the container is :mod:`sklstm._archive`.
"""

from __future__ import annotations

from sklstm import _state
from sklstm._archive import FORMAT
from sklstm._state import FORMAT_VERSION
from sklstm.generator import LSTMTextGenerator

__all__ = ["FORMAT", "FORMAT_VERSION", "load", "save"]


def save(estimator, path):
    """Write a fitted :class:`~sklstm.LSTMTextGenerator` to ``path``.

    Parameters
    ----------
    estimator : LSTMTextGenerator
        A fitted model.
    path : str or os.PathLike
        Destination file; conventionally ending in ``.sklstm``. Replaced
        atomically if it exists.

    Notes
    -----
    Callbacks are not saved (they are code); a ``RandomState`` instance as
    ``random_state`` is saved as None, and so is a ``tf.distribute.Strategy``
    instance as ``distribution_strategy`` (a name such as ``"mirrored"`` is
    saved).

    Examples
    --------
    >>> import os, tempfile
    >>> import sklstm
    >>> from sklstm import LSTMTextGenerator
    >>> from sklstm.persistence import save
    >>> docs = ["the cat sat on the mat. " * 10, "the dog sat on the log. " * 10]
    >>> model = LSTMTextGenerator(units=8, embedding_dim=4, sequence_length=10,
    ...                           epochs=1, random_state=0).fit(docs)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.sklstm")
    >>> save(model, path)  # the same as model.save(path)
    >>> sklstm.load(path).score(docs) == model.score(docs)
    True
    """
    _state.save(estimator, path)


def load(path):
    """Read a model written by :meth:`LSTMTextGenerator.save`.

    Nothing is unpickled: the parameters and vocabulary are JSON and the
    network is loaded with Keras ``safe_mode=True`` after its layer classes
    are checked. A truncated, corrupted or foreign file raises ``ValueError``.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by ``save``.

    Returns
    -------
    estimator : LSTMTextGenerator
        The fitted model, ready to ``generate``, ``score`` or keep training.

    Raises
    ------
    ValueError
        When the file is truncated, corrupted, not an sklstm model, written
        by a newer sklstm, or holds layers sklstm never builds.

    See Also
    --------
    LSTMTextGenerator.save : Write a model in this format.

    Examples
    --------
    >>> import os
    >>> import tempfile
    >>> import sklstm
    >>> from sklstm import LSTMTextGenerator
    >>> from sklstm.persistence import save
    >>> docs = ["the cat sat on the mat. " * 10, "the dog sat on the log. " * 10]
    >>> model = LSTMTextGenerator(units=8, embedding_dim=4, sequence_length=10,
    ...                           epochs=1, validation_fraction=0,
    ...                           random_state=0).fit(docs)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "cats.sklstm")
    ...     _ = model.save(path)
    ...     loaded = sklstm.load(path)
    >>> loaded.history_ == model.history_
    True
    >>> same = dict(max_new_tokens=20, random_state=0)
    >>> loaded.generate("the ", **same) == model.generate("the ", **same)
    True
    """
    return _state.load(path, LSTMTextGenerator)
