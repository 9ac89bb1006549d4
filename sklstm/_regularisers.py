"""Weight dropout and embedding dropout of AWD-LSTM (Merity et al., 2017).

Both drop weights, not activations, once per training batch:

- weight dropout (DropConnect) zeroes each element of every LSTM layer's
  recurrent kernel with probability ``p``, so that one batch runs every time
  step with the same thinned recurrence;
- embedding dropout zeroes whole rows of the embedding matrix: a dropped
  token id embeds to zeros wherever it stands in the batch.

The kept weights are scaled by ``1 / (1 - p)``. :func:`dropped_weights`
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
    shape = [weight.shape[0], 1] if rows else weight.shape
    keep = keras.random.uniform(shape, dtype=weight.dtype, seed=seed) >= rate
    return weight * (tf.cast(keep, weight.dtype) / (1.0 - rate))


def dropped_weights(network, weight_dropout, embedding_dropout, seed):
    """Dropped copies of a network's weights for one training batch.

    ``network`` is a :class:`sklstm._model.Network`. Returns a dict for its
    ``features`` and ``fused_features``: ``"embedding"`` maps to the
    embedding matrix with rows dropped (when ``embedding_dropout``), and
    each LSTM layer's name to its recurrent kernel with elements dropped
    (when ``weight_dropout``).
    """
    dropped = {}
    if embedding_dropout:
        dropped["embedding"] = drop(
            network.embedding.embeddings, embedding_dropout, seed, rows=True
        )
    if weight_dropout:
        for lstm in network.lstms:
            dropped[lstm.name] = drop(lstm.cell.recurrent_kernel, weight_dropout, seed)
    return dropped
