"""A safe file format for sharing fitted models: no pickle, no code.

``LSTMTextGenerator.save(path)`` writes one zip file holding

- ``model.keras``: the Keras archive of the network (weights, architecture,
  optimizer state);
- ``sklstm.json``: the estimator's parameters, the fitted vocabulary (at
  subword level with the tokenizer's own JSON), the training history and the
  versions that wrote it.

:func:`load` reads it back without unpickling anything: the JSON is plain
data, and the network is loaded with Keras ``safe_mode=True`` after checking
that it only holds the layer classes sklstm builds (a ``Lambda`` layer or any
other class is refused). Files are written to a temporary name and renamed,
so a crash never leaves a half-written file where a good one was.

Format version 2 adds subword sequencers (``TextSequencer(level="subword")``,
its ``vocab_size`` parameter and the tokenizer's JSON); version 1 files still
load.
"""

from __future__ import annotations

import io
import json
import numbers
import os
import struct
import tempfile
import zipfile
import zlib

import numpy as np

# What reading a damaged zip archive raises.
_DAMAGE = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    struct.error,
    EOFError,
    OSError,
    NotImplementedError,
    RuntimeError,
)

FORMAT = "sklstm-model"
FORMAT_VERSION = 2
_MODEL = "model.keras"
_META = "sklstm.json"
# Layer classes sklstm builds; any other layer, and any class from outside
# Keras, is refused.
_ALLOWED_CLASSES = {"InputLayer", "Embedding", "LSTM", "LSTMCell", "Dropout", "Dense"}


def _sequencer_state(sequencer):
    """A fitted sequencer as JSON data: parameters, tokens, subword tokenizer."""
    state = {"params": sequencer.get_params(), "tokens": list(sequencer._tokens)}
    if sequencer.level == "subword":
        state["tokenizer"] = sequencer._tokenizer_json
    return state


def _json_params(estimator):
    """The estimator's parameters as JSON data (None where not data)."""
    params = estimator.get_params(deep=False)
    sequencer = params.pop("sequencer")
    params["sequencer"] = None if sequencer is None else sequencer.get_params()
    params["callbacks"] = None  # code, not data: never saved
    # A strategy instance is a handle on one process's devices: not saved. A
    # name is; None is left out, so that older sklstm versions read the file.
    strategy = params.pop("distribution_strategy", None)
    if isinstance(strategy, str):
        params["distribution_strategy"] = strategy
    # The default is left out too: training_kernel changes how a network
    # trains, not the network.
    if params.get("training_kernel") == "auto":
        del params["training_kernel"]
    seed = params["random_state"]
    params["random_state"] = int(seed) if isinstance(seed, numbers.Integral) else None
    if isinstance(params["units"], tuple):
        params["units"] = list(params["units"])
    return params


def _plain(value):
    """JSON for numpy scalars (parameters often come from ``np.arange``)."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(
        f"save can only store parameters that are plain data; got {value!r} "
        f"({type(value).__name__})."
    )


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
    from sklearn.utils.validation import check_is_fitted

    from sklstm import __version__

    check_is_fitted(estimator, "model_")
    import keras

    seq = estimator.sequencer_
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "sklstm_version": __version__,
        "keras_version": keras.__version__,
        "params": _json_params(estimator),
        "sequencer": None if seq is None else _sequencer_state(seq),
        "vocab_size": int(estimator.vocab_size_),
        "history": estimator.history_,
        "n_epochs": int(estimator.n_epochs_),
        "best_epoch": int(estimator.best_epoch_),
        "n_features_in": (
            int(estimator.n_features_in_)
            if hasattr(estimator, "n_features_in_")
            else None
        ),
    }
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    with tempfile.TemporaryDirectory() as tmp:
        keras_file = os.path.join(tmp, _MODEL)
        estimator.model_.save(keras_file)
        fd, partial = tempfile.mkstemp(dir=folder, prefix=".sklstm-", suffix=".partial")
        try:
            with os.fdopen(fd, "wb") as handle:
                with zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as archive:
                    archive.writestr(_META, json.dumps(meta, indent=1, default=_plain))
                    archive.write(keras_file, _MODEL)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(partial, path)
        except BaseException:
            if os.path.exists(partial):
                os.unlink(partial)
            raise


def _refuse(path, why):
    raise ValueError(f"{path!r} is not a readable sklstm model file: {why}")


def _check_layers(path, keras_bytes):
    """Refuse Keras archives with layer classes sklstm does not build."""
    try:
        with zipfile.ZipFile(io.BytesIO(keras_bytes)) as inner:
            config = json.loads(inner.read("config.json"))
    except (*_DAMAGE, KeyError, ValueError) as exc:
        _refuse(path, f"its Keras archive is damaged ({exc}).")

    found = set()

    def walk(node):
        if isinstance(node, dict):
            name = node.get("class_name")
            if name is not None and name != "__keras_tensor__":  # a graph edge
                found.add((str(node.get("module")), str(name)))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(config)
    refused = sorted(
        f"{module}.{name}"
        for module, name in found
        if not module.startswith("keras")
        or (module == "keras.layers" and name not in _ALLOWED_CLASSES)
    )
    if refused:
        _refuse(
            path,
            f"its network holds classes sklstm never builds: {refused[:5]!r} "
            "(loading them could run code).",
        )


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
    import keras

    from sklstm._device import share_gpus
    from sklstm.generator import LSTMTextGenerator
    from sklstm.sequencer import TextSequencer

    share_gpus()  # before Keras builds the network on a GPU
    path = os.fspath(path)
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            missing = {_META, _MODEL} - names
            if not missing:
                meta_bytes = archive.read(_META)
                keras_bytes = archive.read(_MODEL)
    except FileNotFoundError:
        raise
    except _DAMAGE as exc:
        with open(path, "rb") as handle:
            pickled = handle.read(1) == b"\x80"  # pickle protocol 2 and later
        if pickled:
            _refuse(
                path,
                "it is a pickle (as joblib.dump and pickle.dump write), not a "
                "file written by save. Load it with joblib.load, and only if "
                "you trust whoever made it: unpickling runs code.",
            )
        _refuse(path, f"it is not an intact zip archive ({exc}).")
    if missing:
        _refuse(
            path,
            f"expected {_META} and {_MODEL} inside, found {sorted(names)[:5]!r}.",
        )
    try:
        meta = json.loads(meta_bytes)
    except ValueError as exc:  # JSON and UTF-8 decoding errors alike
        _refuse(path, f"its {_META} is not valid JSON ({exc}).")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        _refuse(path, f"its {_META} does not describe an sklstm model.")
    version = meta.get("format_version")
    if not isinstance(version, numbers.Integral) or version > FORMAT_VERSION:
        _refuse(
            path,
            f"it has format version {version!r}; this sklstm reads versions up to "
            f"{FORMAT_VERSION}. Upgrade sklstm to read it.",
        )
    _check_layers(path, keras_bytes)

    try:
        params = dict(meta["params"])
        if isinstance(params.get("units"), list):
            params["units"] = tuple(params["units"])
        if params.get("sequencer") is not None:
            params["sequencer"] = TextSequencer(**params["sequencer"])
        estimator = LSTMTextGenerator(**params)
        if meta["sequencer"] is None:
            estimator.sequencer_ = None
        else:
            seq = TextSequencer(**meta["sequencer"]["params"])
            seq._restore(
                [str(t) for t in meta["sequencer"]["tokens"]],
                meta["sequencer"].get("tokenizer"),
            )
            estimator.sequencer_ = seq
        estimator.vocab_size_ = int(meta["vocab_size"])
        estimator.history_ = {
            str(k): [float(v) for v in vs] for k, vs in meta["history"].items()
        }
        estimator.n_epochs_ = int(meta["n_epochs"])
        estimator.best_epoch_ = int(meta["best_epoch"])
        if meta.get("n_features_in") is not None:
            estimator.n_features_in_ = int(meta["n_features_in"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        _refuse(path, f"its {_META} is incomplete or inconsistent ({exc!r}).")

    with tempfile.TemporaryDirectory() as tmp:
        keras_file = os.path.join(tmp, _MODEL)
        with open(keras_file, "wb") as handle:
            handle.write(keras_bytes)
        try:
            model = keras.saving.load_model(keras_file, safe_mode=True)
        except Exception as exc:  # noqa: BLE001 - Keras raises many kinds
            _refuse(path, f"Keras could not load its network ({exc}).")
    if model.get_layer("logits").units != estimator.vocab_size_:
        _refuse(path, "its network and its vocabulary disagree in size.")
    estimator.model_ = model
    estimator._engine()
    return estimator
