"""What an LSTMTextGenerator was given: text, id sequences or files; and
their ids.

``X`` (and a prompt) is raw text, read by the model's sequencer; files to
read, when the sequencer's ``input`` says so; integer id sequences (a 2-D
array padded with ``0``, or a list of 1-D arrays) from a TextSequencer
earlier in a pipeline; or an :class:`~sklstm._corpus.IdCorpus` on disk.
:func:`split_input` tells which and checks it, :func:`encode` turns any of
them into the id sequences the model reads, and :func:`encode_prompts` does
so for the prompts of ``generate``. These functions are the package's
interface for encoding what a model is given: the estimator's methods, its
training and :class:`sklstm._resolve.FittedLM` use them.
"""

from __future__ import annotations

import numbers
import os

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from sklstm._corpus import IdCorpus, check_sources, id_dtype
from sklstm._tokens import PAD_ID
from sklstm._validation import check_documents, check_prompts
from sklstm.sequencer import (
    TextSequencer,
    check_id_sequences,
    encode_documents,
    encode_for_training,
    encode_texts,
)


def input_kind(model, *, fitted):
    """``input`` of the sequencer that reads raw documents ("content"...):
    the fitted one when ``fitted``, else the one ``fit`` would clone."""
    sequencer = (
        getattr(model, "sequencer_", None) if fitted else model.sequencer
    ) or TextSequencer()
    return sequencer.input


def split_input(model, X, where, *, reset=False, prompts=False):
    """Return ("text", docs), ("ids", id sequences without padding), or
    ("corpus", an IdCorpus on disk).

    Documents are files to read when the sequencer's ``input`` says so
    (prompts are always text).

    Rectangular id input (a 2-D array, or equal-length rows) goes through
    scikit-learn's ``validate_data`` at ``fit`` (``reset=True``, which sets
    ``model.n_features_in_``) and ``check_array`` afterwards: contexts of any
    length are valid, so later calls need not match the fitted width.
    Ragged lists of 1-D sequences are checked row by row.
    """
    if isinstance(X, IdCorpus):
        if not reset and X.max_id() >= model.vocab_size_:
            check_id_sequences(X, model.vocab_size_, where)  # raises
        return "corpus", X
    kind = "content" if prompts else input_kind(model, fitted=not reset)
    numeric = isinstance(X, np.ndarray) and X.dtype.kind in "biuf"
    if kind != "content" and not (numeric or sp.issparse(X)):
        # Files to read, unless these are id sequences (already encoded).
        if _is_path(X):
            check_sources(X, kind, where)  # raises the single-path error
        try:
            X = list(X)
        except TypeError:
            check_sources(X, kind, where)  # raises: names what it expects
        if not X:
            raise ValueError(f"{where} expects at least one file; got none.")
        if all(np.ndim(x) == 0 for x in X):
            return "text", check_sources(X, kind, where)
    if isinstance(X, (str, bytes)):
        check_documents(X, where)  # raises the bare-string error
    if not (isinstance(X, np.ndarray) or sp.issparse(X)):
        try:
            X = list(X)
        except TypeError as exc:
            raise TypeError(
                f"{where} expects an iterable of str documents or integer id "
                f"sequences; got {type(X).__name__}."
            ) from exc
        if len(X) == 0:
            raise ValueError(
                f"{where} expects at least one document or id sequence; got "
                "an empty input."
            )
    if _is_text(X) or (
        not isinstance(X, np.ndarray)
        and not sp.issparse(X)
        and not any(np.ndim(x) > 0 for x in X)
    ):
        # Text, or a list of scalars (None, numbers): neither is a list of
        # id sequences; the documents check names the offending items.
        return "text", check_documents(X, where)
    return "ids", _id_sequences(model, X, where, reset=reset)


def _id_sequences(model, X, where, *, reset):
    """Checked id sequences of ``X``, without padding (see split_input)."""
    rows = _rectangular(X)
    if rows is not None:
        if reset:
            rows = validate_data(model, rows, dtype="numeric", reset=True)
        else:
            rows = check_array(rows, dtype="numeric", ensure_min_features=0)
    elif reset and hasattr(model, "n_features_in_"):
        del model.n_features_in_  # ragged input has no fixed width
    bound = np.iinfo(np.int32).max if reset else model.vocab_size_
    sequences = check_id_sequences(X if rows is None else rows, bound, where)
    return [s[s != PAD_ID] for s in sequences]  # drop padding


def encode(model, X, where, *, prompts=False, training=False):
    """Validated id sequences for ``X``, text or ids, on a fitted model.

    For ``training``, files are encoded to an IdCorpus and text to the
    smallest dtype of its ids, as ``fit`` encodes them; otherwise both
    to int32 arrays in memory.
    """
    check_is_fitted(model, "model_")
    kind, data = split_input(model, X, where, prompts=prompts)
    if kind == "corpus":
        return data if training else list(data)
    if kind == "ids":
        return data
    if model.sequencer_ is None:
        raise TypeError(
            f"{where} got text, but this {type(model).__name__} was fitted "
            "on token ids and has no sequencer. Pass ids from the same "
            "TextSequencer, or use the whole pipeline (for generation: "
            "sklstm.generate(pipeline, prompt))."
        )
    if prompts:
        return encode_texts(model.sequencer_, data)
    if training:
        return encode_for_training(model.sequencer_, data, id_dtype(model.vocab_size_))
    return encode_documents(model.sequencer_, data)


def encode_prompts(model, prompt):
    """Return (single, id sequences) for one prompt or a list of them."""
    where = f"{type(model).__name__}.generate"
    check_prompts(prompt, where)
    if isinstance(prompt, str) and not prompt and model.sequencer_ is None:
        prompt = np.zeros(0, np.int32)  # the empty prompt, as ids
    if isinstance(prompt, str):
        return True, encode(model, [prompt], where, prompts=True)
    if isinstance(prompt, np.ndarray) and prompt.ndim == 1:
        if prompt.size == 0 or prompt.dtype.kind in "iuf":
            return True, encode(model, [prompt], where, prompts=True)
    if (
        isinstance(prompt, (list, tuple))
        and prompt
        and all(isinstance(t, numbers.Real) and not isinstance(t, bool) for t in prompt)
    ):
        return True, encode(model, [prompt], where, prompts=True)
    return False, encode(model, prompt, where, prompts=True)


def _is_path(X):
    return isinstance(X, (str, bytes, os.PathLike))


def _is_text(X):
    if isinstance(X, np.ndarray) and X.dtype != object:
        return X.dtype.kind in "US"
    if sp.issparse(X):
        return False
    return any(isinstance(x, (str, bytes)) for x in X)


def _rectangular(X):
    """``X`` as an array when it is rectangular (or sparse), else None."""
    if sp.issparse(X):
        return X
    if isinstance(X, np.ndarray) and not (X.ndim == 1 and X.dtype == object):
        return X
    try:
        arr = np.asarray(X)
    except ValueError:  # ragged
        return None
    return None if arr.dtype == object and arr.ndim == 1 else arr
