"""The output layer and its cross-entropy in one pass, a chunk of tokens at a
time, over the ``logits`` Dense layer's own weights.

Training computes, for every position, ``logits = x @ kernel + bias``, the
softmax cross-entropy against the next token and its gradient. Done as
separate operations over a whole batch, the logits of a word model are a
(tokens, vocabulary) array of hundreds of megabytes that is written and read
again by the bias, the loss, the accuracy, and the three matrix products of
the backward pass: at a 10,000-word vocabulary those passes over memory cost
as much as a third of the arithmetic. Here each chunk of tokens computes
its logits, loss, hits (argmax equals the target) and logit gradient in
one pass, and adds its share of the weight gradients::

    for each chunk of rows of x:
        logits = x_c @ kernel + bias
        loss_c, g = softmax cross-entropy and its gradient (one fused op)
        dx_c = g @ kernel.T;  dkernel += x_c.T @ g;  dbias += sum(g)

The gradients are those of the mean loss, computed in the forward pass and
scaled by the incoming gradient (a scalar), so nothing of logits' size is
kept for the backward pass.
"""

from __future__ import annotations

import tensorflow as tf

# Logit elements per chunk: 64 MB of float32 (1,600 tokens at a vocabulary
# of 10,000). Chunks of 256 tokens were as fast on one AMD EPYC host and
# 10% slower on another, whose matrix products need more rows to run at
# full speed; 1,600 was the fastest or level on both.
CHUNK_ELEMENTS = 16_000_000


def chunk_rows(vocab_size):
    """Tokens per chunk for a vocabulary of ``vocab_size``."""
    return max(64, CHUNK_ELEMENTS // max(int(vocab_size), 1))


def _chunks(x, kernel, bias, targets, rows, gradients):
    """Sum of the losses, hits per token and, with ``gradients``, the
    gradients of the summed loss with respect to ``x``, ``kernel`` and
    ``bias``."""
    n = tf.shape(x)[0]
    count = (n + rows - 1) // rows

    def chunk(k, losses, hits, dxs, dkernel, dbias):
        xc = x[k * rows : (k + 1) * rows]
        tc = targets[k * rows : (k + 1) * rows]
        logits = tf.nn.bias_add(tf.matmul(xc, kernel), bias)
        loss, grad = tf.raw_ops.SparseSoftmaxCrossEntropyWithLogits(
            features=logits, labels=tc
        )
        guess = tf.argmax(logits, axis=-1, output_type=tc.dtype)
        losses = losses.write(k, loss)
        hits = hits.write(k, tf.cast(tf.equal(guess, tc), tf.float32))
        if gradients:
            dxs = dxs.write(k, tf.matmul(grad, kernel, transpose_b=True))
            dkernel += tf.matmul(xc, grad, transpose_a=True)
            dbias += tf.reduce_sum(grad, axis=0)
        return k + 1, losses, hits, dxs, dkernel, dbias

    arrays = [
        tf.TensorArray(tf.float32, size=count, infer_shape=False, element_shape=shape)
        for shape in ([None], [None], [None, x.shape[-1]])
    ]
    sums = [tf.zeros_like(kernel), tf.zeros_like(bias)] if gradients else [0.0, 0.0]
    _, losses, hits, dxs, dkernel, dbias = tf.while_loop(
        lambda k, *_: k < count,
        chunk,
        [tf.constant(0), *arrays, *sums],
        parallel_iterations=1,
    )
    total = tf.reduce_sum(losses.concat())
    if not gradients:
        return total, hits.concat(), None
    return total, hits.concat(), (dxs.concat(), dkernel, dbias)


def linear_cross_entropy(x, kernel, bias, targets, *, training=True, rows=None):
    """Mean softmax cross-entropy of ``targets`` under ``x @ kernel + bias``,
    and each token's hit (1.0 where the logits' argmax is the target).

    ``x`` is (tokens, features) float32, ``kernel`` (features, vocab),
    ``bias`` (vocab,), ``targets`` (tokens,) int32. The result equals
    ``mean(sparse_softmax_cross_entropy_with_logits(targets, x @ kernel +
    bias))`` and its gradients with respect to ``x``, ``kernel`` and
    ``bias`` are exact. ``training=False`` computes no gradients. ``rows``
    is the chunk size (default: :func:`chunk_rows`).
    """
    x = tf.convert_to_tensor(x, tf.float32)
    kernel = tf.convert_to_tensor(kernel, tf.float32)
    bias = tf.convert_to_tensor(bias, tf.float32)
    targets = tf.convert_to_tensor(targets, tf.int32)
    rows = rows or chunk_rows(kernel.shape[-1])
    n = tf.cast(tf.shape(x)[0], tf.float32)
    if not training:
        total, hits, _ = _chunks(x, kernel, bias, targets, rows, False)
        return total / n, hits

    @tf.custom_gradient
    def mean_loss(x, kernel, bias):
        total, hits, (dx, dkernel, dbias) = _chunks(
            x, kernel, bias, targets, rows, True
        )

        def grad(dloss, dhits=None):
            del dhits  # hits are counts: no gradient
            scale = dloss / n
            return dx * scale, dkernel * scale, dbias * scale

        return (total / n, tf.stop_gradient(hits)), grad

    return mean_loss(x, kernel, bias)
