"""The container of sklstm's safe model files: zip, JSON and a Keras archive.

A file is one zip archive holding

- ``sklstm.json``: plain JSON data that marks the format, its version and
  the versions of sklstm and Keras that wrote it, plus whatever its writer
  stores (:mod:`sklstm._state` decides that);
- ``model.keras``: the Keras archive of a network.

:func:`write` writes to a temporary name and renames, so a crash never leaves
a half-written file where a good one was. :func:`read` unpickles nothing: it
refuses anything but an intact archive of a known format version whose
network holds only the layer classes sklstm builds (a ``Lambda`` layer, or
any class from outside Keras, could run code), and :func:`load_network` then
loads that network with Keras ``safe_mode=True``. This module knows no
estimator.
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

from sklstm._device import share_gpus
from sklstm._version import __version__

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
MODEL = "model.keras"
META = "sklstm.json"
# Layer classes sklstm builds; any other layer, and any class from outside
# Keras, is refused.
ALLOWED_CLASSES = {
    "InputLayer",
    "Embedding",
    "LSTM",
    "LSTMCell",
    "Dropout",
    "Dense",
    # Tied weights: the embedding read in reverse, a scale and bias per token.
    "ReversibleEmbedding",
    "EinsumDense",
}


def _plain(value):
    """JSON for numpy scalars (parameters often come from ``np.arange``)."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(
        f"save can only store parameters that are plain data; got {value!r} "
        f"({type(value).__name__})."
    )


def write(path, version, meta, network):
    """Write ``meta`` (a dict of JSON data) and the Keras ``network`` to
    ``path`` as format ``version``; an existing file is replaced atomically.
    """
    import keras

    meta = {
        "format": FORMAT,
        "format_version": version,
        "sklstm_version": __version__,
        "keras_version": keras.__version__,
        **meta,
    }
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    with tempfile.TemporaryDirectory() as tmp:
        keras_file = os.path.join(tmp, MODEL)
        network.save(keras_file)
        fd, partial = tempfile.mkstemp(dir=folder, prefix=".sklstm-", suffix=".partial")
        try:
            with os.fdopen(fd, "wb") as handle:
                with zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as archive:
                    archive.writestr(META, json.dumps(meta, indent=1, default=_plain))
                    archive.write(keras_file, MODEL)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(partial, path)
        except BaseException:
            if os.path.exists(partial):
                os.unlink(partial)
            raise


def refuse(path, why):
    """Raise the ValueError of a file that cannot be read, saying ``why``."""
    raise ValueError(f"{path!r} is not a readable sklstm model file: {why}")


def _check_layers(path, keras_bytes):
    """Refuse Keras archives with layer classes sklstm does not build."""
    try:
        with zipfile.ZipFile(io.BytesIO(keras_bytes)) as inner:
            config = json.loads(inner.read("config.json"))
    except (*_DAMAGE, KeyError, ValueError) as exc:
        refuse(path, f"its Keras archive is damaged ({exc}).")

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
        or (module == "keras.layers" and name not in ALLOWED_CLASSES)
    )
    if refused:
        refuse(
            path,
            f"its network holds classes sklstm never builds: {refused[:5]!r} "
            "(loading them could run code).",
        )


def _read_members(path):
    """The bytes of ``sklstm.json`` and ``model.keras`` inside ``path``."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            missing = {META, MODEL} - names
            if not missing:
                meta_bytes = archive.read(META)
                keras_bytes = archive.read(MODEL)
    except FileNotFoundError:
        raise
    except _DAMAGE as exc:
        with open(path, "rb") as handle:
            pickled = handle.read(1) == b"\x80"  # pickle protocol 2 and later
        if pickled:
            refuse(
                path,
                "it is a pickle (as joblib.dump and pickle.dump write), not a "
                "file written by save. Load it with joblib.load, and only if "
                "you trust whoever made it: unpickling runs code.",
            )
        refuse(path, f"it is not an intact zip archive ({exc}).")
    if missing:
        refuse(
            path,
            f"expected {META} and {MODEL} inside, found {sorted(names)[:5]!r}.",
        )
    return meta_bytes, keras_bytes


def read(path, newest):
    """Return ``(meta, keras_bytes)`` of the file at ``path``.

    ``meta`` is the JSON of ``sklstm.json``, of format version 1 to
    ``newest`` (``meta["format_version"]``); the network in ``keras_bytes``
    holds only the layer classes sklstm builds. Anything else raises
    ``ValueError`` (``FileNotFoundError`` for a missing file).
    """
    path = os.fspath(path)
    meta_bytes, keras_bytes = _read_members(path)
    try:
        meta = json.loads(meta_bytes)
    except ValueError as exc:  # JSON and UTF-8 decoding errors alike
        refuse(path, f"its {META} is not valid JSON ({exc}).")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        refuse(path, f"its {META} does not describe an sklstm model.")
    version = meta.get("format_version")
    if not isinstance(version, numbers.Integral) or version > newest:
        refuse(
            path,
            f"it has format version {version!r}; this sklstm reads versions up to "
            f"{newest}. Upgrade sklstm to read it.",
        )
    _check_layers(path, keras_bytes)
    return meta, keras_bytes


def load_network(path, keras_bytes):
    """The Keras network of ``keras_bytes`` (checked by :func:`read`),
    loaded with ``safe_mode=True``."""
    import keras

    share_gpus()  # before Keras builds the network on a GPU
    with tempfile.TemporaryDirectory() as tmp:
        keras_file = os.path.join(tmp, MODEL)
        with open(keras_file, "wb") as handle:
            handle.write(keras_bytes)
        try:
            return keras.saving.load_model(keras_file, safe_mode=True)
        except Exception as exc:  # noqa: BLE001 - Keras raises many kinds
            refuse(path, f"Keras could not load its network ({exc}).")
