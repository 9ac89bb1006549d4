"""Weight dropout and embedding dropout of AWD-LSTM (Merity et al., 2017).

Both drop weights, not activations, once per training batch:

- weight dropout (DropConnect) zeroes each element of every LSTM layer's
  recurrent kernel with probability ``p``, so that one batch runs every time
  step with the same thinned recurrence;
- embedding dropout zeroes whole rows of the embedding matrix: a dropped
  token id embeds to zeros wherever it stands in the batch.

The kept weights are scaled by ``1 / (1 - p)``. ``weight_dropout="auto"``
(the default) sets ``p`` by the passes over its text a fit plans
(:func:`auto_weight_dropout`). :func:`dropped_weights`
computes the dropped copies from the variables inside the gradient tape:
the layers read a copy instead of their own weight (see
:meth:`sklstm._model.Network.features`), and the gradient reaches the
variable through the mask, ``dL/dW = dL/dW_dropped * mask / (1 - p)``. The
variables themselves are never changed, so scoring and generation, which
never draw masks, see the trained weights as they are. With tied weights
the output layer reads the embedding matrix undropped, as in AWD-LSTM.
"""

from __future__ import annotations

import keras
import tensorflow as tf


def drop(weight, rate, seed, rows=False):
    """``weight`` with each element (``rows``: each row) zeroed with
    probability ``rate`` and the rest scaled by ``1 / (1 - rate)``.

    ``seed`` is a ``keras.random.SeedGenerator``: every call draws a new
    mask.
    """
    weight = tf.convert_to_tensor(weight)
    if not isinstance(rate, (int, float)):  # a variable
        rate = tf.cast(tf.convert_to_tensor(rate), weight.dtype)
    shape = [weight.shape[0], 1] if rows else weight.shape
    keep = keras.random.uniform(shape, dtype=weight.dtype, seed=seed) >= rate
    return weight * (tf.cast(keep, weight.dtype) / (1.0 - rate))


# weight_dropout="auto": none up to AUTO_PASSES[0] passes over the text, then
# rising linearly to AUTO_RATE at AUTO_PASSES[1] passes and beyond. Measured
# with bench_quality.py (char model, 5-minute fits): weight_dropout=0.25
# against none cost 7.5% bits per character at 5 passes, +0.7% at 10, and
# gained 1.0% at 11, 1.5-1.7% at 25-26 and 5.4% at 35 passes.
AUTO_PASSES = (10.0, 30.0)
AUTO_RATE = 0.25


def auto_weight_dropout(passes):
    """The rate ``weight_dropout="auto"`` takes in a fit that plans
    ``passes`` passes (epochs) over its training text."""
    low, high = AUTO_PASSES
    return AUTO_RATE * min(max((float(passes) - low) / (high - low), 0.0), 1.0)


def dropped_weights(network, weight_dropout, embedding_dropout, seed):
    """Dropped copies of a network's weights for one training batch.

    ``network`` is a :class:`sklstm._model.Network`. Returns a dict for its
    ``features`` and ``fused_features``: ``"embedding"`` maps to the
    embedding matrix with rows dropped (when ``embedding_dropout``), and
    each LSTM layer's name to its recurrent kernel with elements dropped
    (when ``weight_dropout``). A rate is a float (0: none) or a scalar
    variable, read at every batch.
    """
    dropped = {}
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
