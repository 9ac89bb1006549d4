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
        loss_c, hits_c, g, sum(g) = softmax cross-entropy, argmax, gradient
                                    and its column sums (one XLA kernel,
                                    with the bias' addition)
        dx_c = g @ kernel.T;  dkernel += x_c.T @ g;  dbias += sum(g)

The gradients are those of the mean loss, computed in the forward pass and
scaled by the incoming gradient (a scalar), so nothing of logits' size is
kept for the backward pass.
"""

from __future__ import annotations

import functools

import tensorflow as tf

# Logit elements per chunk: 64 MB of float32 (1,600 tokens at a vocabulary
# of 10,000). Chunks of 256 tokens were as fast on one AMD EPYC host and
# 10% slower on another, whose matrix products need more rows to run at
# full speed; 1,600 was the fastest or level on both.
CHUNK_ELEMENTS = 16_000_000


def chunk_rows(vocab_size):
    """Tokens per chunk for a vocabulary of ``vocab_size``."""
    return max(64, CHUNK_ELEMENTS // max(int(vocab_size), 1))


def _first_top_hits(logits, targets):
    """1.0 where the first largest logit of a row is its target: what
    ``argmax(logits) == targets`` gives (ties go to the lowest index), as
    two reductions XLA fuses, where its argmax is slower."""
    at_top = logits == tf.reduce_max(logits, axis=1, keepdims=True)
    ids = tf.range(tf.shape(logits)[1])[None, :]
    on_target = tf.reduce_any(at_top & (ids == targets[:, None]), axis=1)
    before = tf.reduce_any(at_top & (ids < targets[:, None]), axis=1)
    return tf.cast(on_target & ~before, tf.float32)


def _argmax_hits(logits, targets):
    """The same hits by TensorFlow's own argmax, the faster outside XLA."""
    guess = tf.argmax(logits, axis=-1, output_type=targets.dtype)
    return tf.cast(tf.equal(guess, targets), tf.float32)


def _chunk_values(products, bias, targets, hits):
    """Per token loss and hit (by ``hits``) of the logits ``products +
    bias``, the gradient of the loss per logit, and its sum over the
    chunk's tokens (the bias' gradient)."""
    logits = products + bias
    loss, grad = tf.raw_ops.SparseSoftmaxCrossEntropyWithLogits(
        features=logits, labels=targets
    )
    return loss, hits(logits, targets), grad, tf.reduce_sum(grad, axis=0)


# A chunk's bias, softmax, loss, hits, logit gradient and the bias' gradient
# in one XLA kernel: the word model of bench_train.py (3,150 ids) trained
# 1.20x-1.23x the tokens a second of TensorFlow's own ops in three paired
# runs on a 2-core AMD EPYC (with the bias then a row of the kernel, against
# a column of ones in x; adding it here instead spares that copy of x: the
# char model +6% in three paired runs, the word model level). Each shape of
# chunk compiles once (a batch has at most two).
_VALUES = {
    True: tf.function(
        functools.partial(_chunk_values, hits=_first_top_hits),
        jit_compile=True,
        autograph=False,
    ),
    False: functools.partial(_chunk_values, hits=_argmax_hits),
}


def _chunks(x, kernel, bias, targets, rows, gradients, jit):
    """Sum of the losses, hits per token and, with ``gradients``, the
    gradients of the summed loss with respect to ``x``, ``kernel`` and
    ``bias``.

    The bias is added, and its gradient summed, in the kernel that
    computes the softmax (one pass over the logits either way).
    """
    values = _VALUES[jit]
    n = tf.shape(x)[0]
    count = (n + rows - 1) // rows

    def chunk(k, losses, hits, dxs, dkernel, dbias):
        xc = x[k * rows : (k + 1) * rows]
        loss, hit, grad, dbias_c = values(
            tf.matmul(xc, kernel), bias, targets[k * rows : (k + 1) * rows]
        )
        losses = losses.write(k, loss)
        hits = hits.write(k, hit)
        if gradients:
            dxs = dxs.write(k, tf.matmul(grad, kernel, transpose_b=True))
            dkernel += tf.matmul(xc, grad, transpose_a=True)
            dbias += dbias_c
        return k + 1, losses, hits, dxs, dkernel, dbias

    arrays = [
        tf.TensorArray(tf.float32, size=count, infer_shape=False, element_shape=shape)
        for shape in ([None], [None], [None, x.shape[-1]])
    ]
    sums = [tf.zeros_like(a) if gradients else tf.zeros([]) for a in (kernel, bias)]
    _, losses, hits, dxs, dkernel, dbias = tf.while_loop(
        lambda k, *_: k < count,
        chunk,
        [tf.constant(0), *arrays, *sums],
        parallel_iterations=1,
    )
    loss = tf.reduce_sum(losses.concat())
    if not gradients:
        return loss, hits.concat(), None
    return loss, hits.concat(), (dxs.concat(), dkernel, dbias)


def linear_cross_entropy(
    x, kernel, bias, targets, *, training=True, rows=None, jit=True
):
    """Mean softmax cross-entropy of ``targets`` under ``x @ kernel + bias``,
    and each token's hit (1.0 where the logits' argmax is the target).

    ``x`` is (tokens, features) float32, ``kernel`` (features, vocab),
    ``bias`` (vocab,), ``targets`` (tokens,) int32. The result equals
    ``mean(sparse_softmax_cross_entropy_with_logits(targets, x @ kernel +
    bias))`` and its gradients with respect to ``x``, ``kernel`` and
    ``bias`` are exact. ``training=False`` computes no gradients. ``rows``
    is the chunk size (default: :func:`chunk_rows`). ``jit`` computes each
    chunk's softmax and loss in an XLA kernel (compiled once per shape of
    chunk); without, in TensorFlow's own ops.
    """
    x = tf.convert_to_tensor(x, tf.float32)
    kernel = tf.convert_to_tensor(kernel, tf.float32)
    bias = tf.convert_to_tensor(bias, tf.float32)
    targets = tf.convert_to_tensor(targets, tf.int32)
    rows = rows or chunk_rows(kernel.shape[-1])
    n = tf.cast(tf.shape(x)[0], tf.float32)
    if not training:
        total, hits, _ = _chunks(x, kernel, bias, targets, rows, False, jit)
        return total / n, hits

    @tf.custom_gradient
    def mean_loss(x, kernel, bias):
        total, hits, (dx, dkernel, dbias) = _chunks(
            x, kernel, bias, targets, rows, True, jit
        )

        def grad(dloss, dhits=None):
            del dhits  # hits are counts: no gradient
            scale = dloss / n
            return dx * scale, dkernel * scale, dbias * scale

        return (total / n, tf.stop_gradient(hits)), grad

    return mean_loss(x, kernel, bias)
