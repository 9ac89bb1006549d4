"""Weight dropout and embedding dropout of AWD-LSTM (Merity et al., 2017),
and the ``"auto"`` rates of the regularisers.

Both drop weights, not activations, once per training batch:

- weight dropout (DropConnect) zeroes each element of every LSTM layer's
  recurrent kernel with probability ``p``, so that one batch runs every time
  step with the same thinned recurrence;
- embedding dropout zeroes whole rows of the embedding matrix: a dropped
  token id embeds to zeros wherever it stands in the batch.

The kept weights are scaled by ``1 / (1 - p)``. ``weight_dropout="auto"``
(the default) sets ``p`` by the passes over its text a fit plans
(:func:`auto_weight_dropout`), and ``dropout="auto"`` (the default) the
rate of dropout on each LSTM layer's outputs (:func:`auto_dropout`), which
the trainer then applies itself (the network has no Dropout layers: its
rate may change between epochs). :func:`dropped_weights`
computes the dropped copies from the variables inside the gradient tape:
the layers read a copy instead of their own weight (see
:meth:`sklstm._model.Network.features`), and the gradient reaches the
variable through the mask, ``dL/dW = dL/dW_dropped * mask / (1 - p)``. The
variables themselves are never changed, so scoring and generation, which
never draw masks, see the trained weights as they are. With tied weights
the output layer reads the embedding matrix undropped, as in AWD-LSTM.
"""

from __future__ import annotations

import functools

import keras
import tensorflow as tf


def drop(weight, rate, seed, rows=False):
    """``weight`` (or activations) with each element (``rows``: each row)
    zeroed with probability ``rate`` and the rest scaled by
    ``1 / (1 - rate)``.

    ``seed`` is a ``keras.random.SeedGenerator``: every call draws a new
    mask.
    """
    weight = tf.convert_to_tensor(weight)
    if not isinstance(rate, (int, float)):  # a variable
        rate = tf.cast(tf.convert_to_tensor(rate), weight.dtype)
    shape = [weight.shape[0], 1] if rows else tf.shape(weight)
    keep = keras.random.uniform(shape, dtype=weight.dtype, seed=seed) >= rate
    return weight * (tf.cast(keep, weight.dtype) / (1.0 - rate))


def _ramp(passes, low, high, rate):
    """0 up to ``low`` passes, rising linearly to ``rate`` at ``high``."""
    return rate * min(max((float(passes) - low) / (high - low), 0.0), 1.0)


# weight_dropout="auto": none up to AUTO_PASSES[0] passes over the text, then
# rising linearly to AUTO_RATE at AUTO_PASSES[1] passes and beyond. Measured
# with bench_quality.py (char model, 5-minute fits): weight_dropout=0.25
# against none cost 7.5% bits per character at 5 passes, +0.7% at 10, and
# gained 1.0% at 11, 1.5-1.7% at 25-26 and 5.4% at 35 passes.
AUTO_PASSES = (10.0, 30.0)
AUTO_RATE = 0.25

# dropout="auto", the same way, on top of weight dropout. Measured with
# bench_quality.py (LSTM 384, weight_dropout="auto"): dropout=0.1 cost 2.6%
# bits per character at 7 passes; at 16-17 passes 0.1 was level and 0.2
# gained 0.6%; at 43-46 passes 0.1, 0.2 and 0.3 gained 1.9%, 2.4% and 2.7%.
AUTO_DROPOUT_PASSES = (15.0, 40.0)
AUTO_DROPOUT_RATE = 0.3


def auto_weight_dropout(passes):
    """The rate ``weight_dropout="auto"`` takes in a fit that plans
    ``passes`` passes (epochs) over its training text."""
    return _ramp(passes, *AUTO_PASSES, AUTO_RATE)


def auto_dropout(passes):
    """The rate ``dropout="auto"`` takes in a fit that plans ``passes``
    passes (epochs) over its training text."""
    return _ramp(passes, *AUTO_DROPOUT_PASSES, AUTO_DROPOUT_RATE)


AUTO_RATES = {"weight": auto_weight_dropout, "outputs": auto_dropout}
"""The ``"auto"`` rate of each regulariser a trainer may adapt, by name."""


def dropped_weights(network, weight_dropout, embedding_dropout, seed, outputs=0.0):
    """Dropped copies of a network's weights for one training batch.

    ``network`` is a :class:`sklstm._model.Network`. Returns a dict for its
    ``features`` and ``fused_features``: ``"embedding"`` maps to the
    embedding matrix with rows dropped (when ``embedding_dropout``), and
    each LSTM layer's name to its recurrent kernel with elements dropped
    (when ``weight_dropout``). With ``outputs`` (the rate of
    ``dropout="auto"``), ``"outputs"`` maps to a function that drops
    elements of a layer's outputs, applied after each LSTM layer. A rate is
    a float (0: none) or a scalar variable, read at every batch.
    """
    dropped = {}
    if _active(outputs):
        dropped["outputs"] = functools.partial(drop, rate=outputs, seed=seed)
    if _active(embedding_dropout):
        dropped["embedding"] = drop(
            network.embedding.embeddings, embedding_dropout, seed, rows=True
        )
    if _active(weight_dropout):
        for lstm in network.lstms:
            dropped[lstm.name] = drop(lstm.cell.recurrent_kernel, weight_dropout, seed)
    return dropped


def _active(rate):
    """Whether a rate drops anything: a positive float, or any variable."""
    return not isinstance(rate, (int, float)) or rate > 0
