"""TensorFlow's retracing warning, kept for the cases it is meant for.

TensorFlow warns when a ``tf.function`` is traced again and again ("5 out of
the last 5 calls to <function ...> triggered tf.function retracing"), which
usually means a function is being created in a loop by mistake. Every fitted
model has its own compiled functions, so fitting several models in one
process (a grid search, say) traces each anew, as it must: for these the
warning is noise. It is dropped for sklstm's own functions always, and for
Keras's training step while sklstm trains; it still reaches the user for
anything else.
"""

from __future__ import annotations

import contextlib
import logging

import tensorflow as tf

_MESSAGE = "triggered tf.function retracing"
# Names in the warning that can only be sklstm's own functions.
_OURS = ("Sampler.", "Program.", "Network.")


class _ExpectedRetracing(logging.Filter):
    def __init__(self, everything=False):
        super().__init__()
        self.everything = everything

    def filter(self, record):
        message = record.getMessage()
        if _MESSAGE not in message:
            return True
        return not (self.everything or any(name in message for name in _OURS))


def install():
    """Drop the retracing warning of sklstm's own functions (idempotent)."""
    logger = tf.get_logger()
    if not any(isinstance(f, _ExpectedRetracing) for f in logger.filters):
        logger.addFilter(_ExpectedRetracing())


@contextlib.contextmanager
def expected_retracing():
    """Drop every retracing warning inside the block (a new model's fit)."""
    logger = tf.get_logger()
    quiet = _ExpectedRetracing(everything=True)
    logger.addFilter(quiet)
    try:
        yield
    finally:
        logger.removeFilter(quiet)
