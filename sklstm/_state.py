"""An LSTMTextGenerator's state in the safe format, and its fitted attributes.

:data:`FITTED` declares every fitted attribute of
:class:`~sklstm.LSTMTextGenerator` once: its name, how ``sklstm.json``
stores it, and its entry in the class docstring. :func:`save` writes,
:func:`load` restores and the class docstring documents exactly these, so a
model read back with :func:`sklstm.load` has the fitted attributes that a
joblib copy has. The container (zip, JSON, Keras safe load) is
:mod:`sklstm._archive`; the fitted vocabulary comes from and goes back to
:class:`~sklstm.TextSequencer` through its ``__sklstm_get_state__`` and
``__sklstm_set_state__``.

Format versions: 1, the first; 2 adds subword sequencers (the
``vocab_size`` parameter of ``TextSequencer`` and its tokenizer's JSON); 3
adds ``stateful_``, ``training_time_`` and ``training_kernel_`` (and later
the optional ``weight_dropout_`` and ``dropout_``, which older readers
ignore). Older files
still load; an attribute a file does not hold is absent, as on a model that
never ran ``fit``.
"""

from __future__ import annotations

import numbers
import textwrap
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.utils.validation import check_is_fitted

from sklstm import _archive
from sklstm.sequencer import TextSequencer

FORMAT_VERSION = 3


def _int(value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"expected an int; got {value!r}")
    return int(value)


def _float(value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"expected a number; got {value!r}")
    return float(value)


def _bool(value):
    if not isinstance(value, bool):
        raise TypeError(f"expected true or false; got {value!r}")
    return value


def _kernel(value):
    if value not in ("fused", "keras"):
        raise ValueError(f"expected 'fused' or 'keras'; got {value!r}")
    return value


def _history(value):
    return {str(key): [float(v) for v in values] for key, values in value.items()}


def _dump_sequencer(sequencer):
    if sequencer is None:
        return None
    return {"params": sequencer.get_params(), **sequencer.__sklstm_get_state__()}


def _load_sequencer(data):
    if data is None:
        return None
    state = dict(data)
    sequencer = TextSequencer(**state.pop("params"))
    return sequencer.__sklstm_set_state__(state)


@dataclass(frozen=True)
class Fitted:
    """One fitted attribute: its docstring entry and how the file stores it.

    ``dump`` turns the value into JSON data and ``load`` reads that back,
    raising TypeError or ValueError on data that cannot be the value; both
    None for ``model_``, stored as the Keras archive. An ``optional``
    attribute can be absent from a fitted model (stored as null).
    """

    name: str
    type: str
    doc: str
    dump: Callable | None = None
    load: Callable | None = None
    optional: bool = False

    @property
    def key(self):
        """The attribute's key in ``sklstm.json``: its name without the ``_``."""
        return self.name.rstrip("_")


FITTED = (
    Fitted(
        "model_",
        "keras.Model",
        "The trained network: int ids (batch, time) -> logits (batch, time, vocab).",
    ),
    Fitted(
        "sequencer_",
        "TextSequencer or None",
        "The fitted tokeniser when trained on raw text; None when trained on ids.",
        _dump_sequencer,
        _load_sequencer,
    ),
    Fitted(
        "vocab_size_",
        "int",
        "Number of token ids the model covers (reserved ids included).",
        int,
        _int,
    ),
    Fitted(
        "history_",
        "dict of str to list of float",
        "Per epoch: ``loss`` and ``accuracy`` (next-token) on the training "
        "windows, and ``val_loss`` and ``val_accuracy`` with validation.",
        _history,
        _history,
    ),
    Fitted(
        "best_epoch_",
        "int",
        "Epoch (0-based) whose weights the model holds.",
        int,
        _int,
    ),
    Fitted(
        "n_epochs_",
        "int",
        "Epochs run (an epoch cut short by ``max_time`` counts).",
        int,
        _int,
    ),
    Fitted(
        "stateful_",
        "bool",
        "Whether the last ``fit`` carried states across batches (what "
        '``stateful="auto"`` chose).',
        bool,
        _bool,
        optional=True,
    ),
    Fitted(
        "training_time_",
        "float",
        "Seconds the last ``fit`` or ``partial_fit`` spent training "
        "(validation included).",
        float,
        _float,
        optional=True,
    ),
    Fitted(
        "training_kernel_",
        '{"fused", "keras"}',
        "How the last ``fit`` or ``partial_fit`` computed the LSTM layers "
        '(what ``training_kernel="auto"`` chose).',
        str,
        _kernel,
        optional=True,
    ),
    Fitted(
        "weight_dropout_",
        "float",
        "Rate of weight dropout the last epoch of the last ``fit`` or "
        '``partial_fit`` trained with (what ``weight_dropout="auto"`` chose).',
        float,
        _float,
        optional=True,
    ),
    Fitted(
        "dropout_",
        "float",
        "Rate of dropout on the LSTM layers' outputs the last epoch of the "
        'last ``fit`` or ``partial_fit`` trained with (what ``dropout="auto"`` '
        "chose).",
        float,
        _float,
        optional=True,
    ),
    Fitted(
        "n_features_in_",
        "int",
        "Width of the rectangular id array ``fit`` was given; absent after "
        "fitting on text or on ragged id sequences.",
        int,
        _int,
        optional=True,
    ),
)

# Where the class docstring lists its fitted attributes.
ATTRIBUTES_MARK = "<fitted attributes: sklstm._state.FITTED>"


def document(docstring):
    """``docstring`` with :data:`ATTRIBUTES_MARK` replaced by the numpydoc
    entries of :data:`FITTED` (None stays None, as under ``python -OO``)."""
    if docstring is None:
        return None
    indent = docstring[: docstring.index(ATTRIBUTES_MARK)].rsplit("\n", 1)[-1]
    entries = []
    for attribute in FITTED:
        entries.append(f"{attribute.name} : {attribute.type}")
        entries.append(
            textwrap.fill(
                attribute.doc,
                width=76,
                initial_indent=indent + "    ",
                subsequent_indent=indent + "    ",
                break_long_words=False,
                break_on_hyphens=False,
            )[len(indent) :]
        )
    return docstring.replace(ATTRIBUTES_MARK, f"\n{indent}".join(entries), 1)


# Parameters stored only when they differ from these defaults.
# weight_dropout's default was 0.0 before "auto": a file that leaves it out
# loads with today's default.
_LEFT_OUT_AT_DEFAULT = {
    "weight_dropout": "auto",
    "embedding_dropout": 0.0,
    "tie_weights": False,
}


def _is_default(value, default):
    """Whether ``value`` is ``default`` (numpy scalars included; False and 0
    are not the same parameter value here)."""
    if isinstance(default, bool):
        return isinstance(value, (bool, np.bool_)) and not value
    if isinstance(default, str):
        return isinstance(value, str) and value == default
    return (
        isinstance(value, numbers.Real)
        and not isinstance(value, (bool, np.bool_))
        and value == default
    )


def _params_to_json(estimator):
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
    # trains, not the network. So are the regularisers' defaults, so that
    # versions of sklstm without them read files that do not use them.
    if params.get("training_kernel") == "auto":
        del params["training_kernel"]
    for name, default in _LEFT_OUT_AT_DEFAULT.items():
        if name in params and _is_default(params[name], default):
            del params[name]
    seed = params["random_state"]
    params["random_state"] = int(seed) if isinstance(seed, numbers.Integral) else None
    if isinstance(params["units"], tuple):
        params["units"] = list(params["units"])
    return params


def _params_from_json(data):
    """Keyword arguments of the estimator from :func:`_params_to_json`'s data."""
    params = dict(data)
    if isinstance(params.get("units"), list):
        params["units"] = tuple(params["units"])
    if params.get("sequencer") is not None:
        params["sequencer"] = TextSequencer(**params["sequencer"])
    return params


def _fitted_from_json(meta):
    """The fitted attributes stored in ``meta`` as a dict of name -> value."""
    fitted = {}
    for attribute in FITTED:
        if attribute.load is None:
            continue  # model_: the Keras archive
        value = meta.get(attribute.key) if attribute.optional else meta[attribute.key]
        if attribute.optional and value is None:
            continue  # absent on the model that was saved, or an older format
        try:
            fitted[attribute.name] = attribute.load(value)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"{attribute.key}: {exc}") from exc
    return fitted


def save(estimator, path):
    """Write a fitted LSTMTextGenerator to ``path`` (see sklstm.persistence)."""
    check_is_fitted(estimator, "model_")
    meta = {"params": _params_to_json(estimator)}
    for attribute in FITTED:
        if attribute.dump is None:
            continue  # model_: the Keras archive
        value = getattr(estimator, attribute.name, None)
        if not (attribute.optional and value is None):
            value = attribute.dump(value)
        meta[attribute.key] = value
    _archive.write(path, FORMAT_VERSION, meta, estimator.model_)


def load(path, estimator_class):
    """Read a file written by :func:`save` as an ``estimator_class``."""
    meta, keras_bytes = _archive.read(path, FORMAT_VERSION)
    try:
        estimator = estimator_class(**_params_from_json(meta["params"]))
        fitted = _fitted_from_json(meta)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        _archive.refuse(
            path, f"its {_archive.META} is incomplete or inconsistent ({exc!r})."
        )
    network = _archive.load_network(path, keras_bytes)
    if network.get_layer("embedding").input_dim != fitted["vocab_size_"]:
        _archive.refuse(path, "its network and its vocabulary disagree in size.")
    fitted["model_"] = network
    return estimator.__sklstm_set_state__(fitted)
