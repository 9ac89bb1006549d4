"""Data-parallel training through ``tf.distribute``.

``LSTMTextGenerator(distribution_strategy=...)`` takes None, a
``tf.distribute.Strategy`` instance or one of the names below. A name is
turned into a strategy once per process (the first ``fit`` that needs it
creates it, later ones reuse it): ``MultiWorkerMirroredStrategy`` configures
the process's collective ops, and on a cluster (``TF_CONFIG``) cannot be
created after TensorFlow has run anything.

Pickles and saved files keep names but not instances (:func:`picklable`).
"""

from __future__ import annotations

import contextlib

import tensorflow as tf

# Names accepted for distribution_strategy, and the strategy each creates.
STRATEGIES = {
    "mirrored": tf.distribute.MirroredStrategy,
    "multi_worker_mirrored": tf.distribute.MultiWorkerMirroredStrategy,
}
_CREATED = {}  # name -> the strategy this process created for it


def check_strategy(value, where):
    """Raise unless ``value`` is None, a strategy instance or a known name."""
    if value is None or isinstance(value, tf.distribute.Strategy):
        return
    if isinstance(value, str) and value in STRATEGIES:
        return
    names = ", ".join(repr(name) for name in STRATEGIES)
    error = ValueError if isinstance(value, str) else TypeError
    raise error(
        f"The 'distribution_strategy' parameter of {where} must be None, a "
        f"tf.distribute.Strategy instance or one of {names}. Got {value!r} "
        "instead."
    )


def get_strategy(value):
    """The strategy for a valid ``distribution_strategy`` value, or None.

    A name creates its strategy the first time, then returns the same one.
    """
    if value is None or isinstance(value, tf.distribute.Strategy):
        return value
    if value not in _CREATED:
        try:
            _CREATED[value] = STRATEGIES[value]()
        except (RuntimeError, ValueError) as exc:  # collective ops set up already
            cls = STRATEGIES[value].__name__
            raise RuntimeError(
                f"distribution_strategy={value!r} could not create "
                f"tf.distribute.{cls}() ({exc}). On a cluster it must be "
                "created before TensorFlow runs anything in the process: "
                f"create strategy = tf.distribute.{cls}() first thing in the "
                "script and pass distribution_strategy=strategy."
            ) from exc
    return _CREATED[value]


def picklable(value):
    """What pickles and saved files keep of ``distribution_strategy``.

    Names stay; an instance becomes None. A strategy is a handle on the
    devices (and cluster) of the process that created it and cannot be
    pickled; a model loaded elsewhere generates and scores the same, and
    trains on one device unless given a strategy again.
    """
    return value if value is None or isinstance(value, str) else None


def n_workers(strategy):
    """Machines (processes) that train together under ``strategy``."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None:
        return 1
    spec = resolver.cluster_spec().as_dict()
    return max(1, sum(len(spec.get(job, ())) for job in ("chief", "worker")))


def strategy_scope(strategy):
    """``strategy.scope()``, or a context that does nothing for None."""
    return contextlib.nullcontext() if strategy is None else strategy.scope()


def describe(strategy, other=None):
    """``strategy`` in words, for error messages (``other``: one it is not)."""
    if strategy is None or strategy is tf.distribute.get_strategy():
        return "no distribution strategy"
    name = type(strategy).__name__
    return f"another {name}" if type(other) is type(strategy) else f"a {name}"
