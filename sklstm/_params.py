"""The parameters of LSTMTextGenerator, checked from one table.

:data:`PARAMETERS` maps every checked parameter, in the order the checks
run, to its rule: what kind of value it takes (an int, a float in a range,
one of some strings, a bool, or a test of its own) and so the message that
refuses anything else, shaped "The 'x' parameter of LSTMTextGenerator must
be ... Got ... instead." :data:`BETWEEN` holds the constraints between
parameters; each runs as soon as the last parameter it reads has passed its
own rule, so that errors come in the table's order. :func:`validate` runs
both; ``LSTMTextGenerator._validate_params`` calls it at ``fit``.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import dataclass

import keras
import numpy as np

from sklstm import _distribute
from sklstm._validation import check_bool, check_float, check_int, check_option
from sklstm.sequencer import TextSequencer


@dataclass(frozen=True)
class Int:
    """An int, at least ``min_value``; None too when ``allow_none``."""

    min_value: int | None = None
    allow_none: bool = False

    def check(self, value, name, where):
        check_int(
            value, name, where, min_value=self.min_value, allow_none=self.allow_none
        )


@dataclass(frozen=True)
class Float:
    """A finite real number in an interval; None too when ``allow_none``."""

    low: float | None = None
    high: float | None = None
    low_inclusive: bool = True
    high_inclusive: bool = True
    allow_none: bool = False

    def check(self, value, name, where):
        check_float(
            value,
            name,
            where,
            low=self.low,
            high=self.high,
            low_inclusive=self.low_inclusive,
            high_inclusive=self.high_inclusive,
            allow_none=self.allow_none,
        )


@dataclass(frozen=True)
class Options:
    """One of the strings ``choices``."""

    choices: tuple

    def check(self, value, name, where):
        check_option(value, name, where, self.choices)


@dataclass(frozen=True)
class Bool:
    """A bool (numpy's too)."""

    def check(self, value, name, where):
        check_bool(value, name, where)


@dataclass(frozen=True)
class Accepts:
    """Any value that ``test`` accepts; ``expected`` says which, in the
    message of the ``error`` raised for the others."""

    test: Callable
    expected: str
    error: type = ValueError

    def check(self, value, name, where):
        if not self.test(value):
            raise self.error(
                f"The {name!r} parameter of {where} must be {self.expected}. "
                f"Got {value!r} instead."
            )


@dataclass(frozen=True)
class Own:
    """A parameter whose owner checks it: ``check(value, where)``."""

    check_value: Callable

    def check(self, value, name, where):
        self.check_value(value, where)


@dataclass(frozen=True)
class Between:
    """A constraint between parameters: ``check(params, where)`` raises when
    the values of ``names`` (each valid on its own) do not go together."""

    names: tuple
    check: Callable


def _is_sequencer(value):
    return value is None or isinstance(value, TextSequencer)


def _is_units(value):
    return layer_units(value) is not None


def _in_unit_interval(value):
    try:
        _UNIT_INTERVAL.check(value, "", "")
    except ValueError:
        return False
    return True


def _is_stateful(value):
    return isinstance(value, (bool, np.bool_)) or value == "auto"


def _is_callbacks(value):
    if value is None:
        return True
    return isinstance(value, (list, tuple)) and all(
        isinstance(c, keras.callbacks.Callback)
        or (isinstance(c, type) and issubclass(c, keras.callbacks.Callback))
        for c in value
    )


def layer_units(units):
    """The units of each LSTM layer as a tuple of ints, for a ``units``
    parameter (an int or a non-empty sequence of ints >= 1); None when
    ``units`` is no such value."""
    layers = (units,) if isinstance(units, numbers.Integral) else units
    if (
        not isinstance(layers, (tuple, list))
        or not layers
        or not all(
            isinstance(u, numbers.Integral) and not isinstance(u, bool) and u > 0
            for u in layers
        )
    ):
        return None
    return tuple(int(u) for u in layers)


_UNIT_INTERVAL = Float(low=0, high=1, high_inclusive=False)  # [0, 1)

_RATE_OR_AUTO = Accepts(
    lambda value: (
        (isinstance(value, str) and value == "auto") or _in_unit_interval(value)
    ),
    "a float >= 0 and < 1, or 'auto'",
)

# Every checked parameter of LSTMTextGenerator, in the order of the checks.
PARAMETERS = {
    "sequencer": Accepts(_is_sequencer, "a TextSequencer or None", TypeError),
    "embedding_dim": Int(min_value=1),
    "units": Accepts(
        _is_units, "an int >= 1 or a non-empty tuple of ints >= 1", ValueError
    ),
    "dense_units": Int(min_value=1, allow_none=True),
    "dropout": _RATE_OR_AUTO,
    "recurrent_dropout": _UNIT_INTERVAL,
    "weight_dropout": _RATE_OR_AUTO,
    "embedding_dropout": _UNIT_INTERVAL,
    "tie_weights": Bool(),
    "l2": Float(low=0),
    "sequence_length": Int(min_value=1),
    "batch_size": Int(min_value=1),
    "stateful": Accepts(_is_stateful, "a bool or 'auto'", ValueError),
    "epochs": Int(min_value=1, allow_none=True),
    "max_time": Float(low=0, low_inclusive=False, allow_none=True),
    "learning_rate": Float(low=0, low_inclusive=False),
    "learning_rate_schedule": Options(("cosine", "constant")),
    "clipnorm": Float(low=0, low_inclusive=False, allow_none=True),
    "dtype_policy": Options(("float32", "mixed_float16", "mixed_bfloat16")),
    "training_kernel": Options(("auto", "fused", "keras")),
    "validation_fraction": _UNIT_INTERVAL,
    "early_stopping": Bool(),
    "n_iter_no_change": Int(min_value=1),
    "warm_start": Bool(),
    "verbose": Int(min_value=0),
    "distribution_strategy": Own(_distribute.check_strategy),
    "random_state": None,  # any seed check_random_state takes; read at fit
    "callbacks": Accepts(
        _is_callbacks,
        "a list of keras.callbacks.Callback instances or classes, or None",
        TypeError,
    ),
}


def _training_has_a_limit(params, where):
    if params["epochs"] is None and params["max_time"] is None:
        raise ValueError(
            f"{where} needs a limit on training: epochs=None trains until "
            "max_time runs out, but max_time is None too. Set epochs to an "
            "int >= 1 or max_time to a number of seconds."
        )


def _strategy_allows(params, where):
    """What a distribution strategy rules out: carried states; across
    machines, ``max_time`` and a random ``random_state``."""
    strategy = _distribute.get_strategy(params["distribution_strategy"])
    if strategy is None:
        return
    stateful = params["stateful"]
    if isinstance(stateful, (bool, np.bool_)) and stateful:
        raise ValueError(
            f"{where} cannot carry LSTM states across batches under a "
            "distribution strategy: each replica would need the states of "
            "its own rows. Set stateful=False (or 'auto', which chooses "
            "False under a strategy), or distribution_strategy=None."
        )
    workers = _distribute.n_workers(strategy)
    if workers > 1 and params["max_time"] is not None:
        raise ValueError(
            f"max_time cannot limit training across {workers} workers: they "
            "would stop after different batches and wait for each other "
            f"forever. Set max_time=None and limit training with epochs "
            f"(got max_time={params['max_time']!r})."
        )
    if workers > 1 and params["random_state"] is None:
        raise ValueError(
            f"{where} needs an int random_state across {workers} workers, so "
            "that every worker holds out the same validation documents and "
            "draws the same batches. Got random_state=None."
        )


# Constraints between parameters.
BETWEEN = (
    Between(("epochs", "max_time"), _training_has_a_limit),
    Between(
        ("stateful", "max_time", "distribution_strategy", "random_state"),
        _strategy_allows,
    ),
)


def validate(params, where):
    """Raise the first error of :data:`PARAMETERS` and :data:`BETWEEN` about
    ``params`` (a dict holding every parameter they name); ``where`` names
    the estimator in the messages."""
    order = list(PARAMETERS)
    due = {}  # a parameter -> the constraints that run once it is checked
    for constraint in BETWEEN:
        last = max(constraint.names, key=order.index)
        due.setdefault(last, []).append(constraint)
    for name, rule in PARAMETERS.items():
        if rule is not None:
            rule.check(params[name], name, where)
        for constraint in due.get(name, ()):
            constraint.check(params, where)
