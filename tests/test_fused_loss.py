"""The output layer and its loss in one chunked pass, against Keras' own
Dense layer and loss."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from corpora import SENTENCES as DOCS
from helpers import kernel_fit

from sklstm import _fused_loss
from sklstm._fused_loss import chunk_rows, linear_cross_entropy


def problem(tokens=53, features=7, vocab=19, seed=0):
    rng = np.random.default_rng(seed)
    x = tf.constant(rng.standard_normal((tokens, features)), tf.float32)
    dense = keras.layers.Dense(vocab, bias_initializer="random_normal")
    dense.build((None, features))
    targets = tf.constant(rng.integers(0, vocab, tokens), tf.int32)
    return x, dense, targets


def keras_reference(x, dense, targets):
    """Loss, hits and gradients of Keras' Dense layer and compiled loss."""
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    with tf.GradientTape() as tape:
        tape.watch(x)
        logits = dense(x)
        loss = loss_fn(targets, logits)
    grads = tape.gradient(loss, [x, dense.kernel, dense.bias])
    hits = keras.metrics.sparse_categorical_accuracy(targets, logits)
    return loss, hits, grads


@pytest.mark.parametrize("jit", [True, False], ids=["xla", "graph"])
@pytest.mark.parametrize("rows", [None, 8, 53, 64], ids=str)
def test_loss_hits_and_gradients_equal_keras(rows, jit):
    # 53 tokens in chunks of 8 leave a last chunk of 5.
    x, dense, targets = problem()
    want_loss, want_hits, want_grads = keras_reference(x, dense, targets)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss, hits = linear_cross_entropy(
            x, dense.kernel, dense.bias, targets, rows=rows, jit=jit
        )
        scaled = 2.5 * loss  # the incoming gradient scales every gradient
    grads = tape.gradient(scaled, [x, dense.kernel, dense.bias])
    np.testing.assert_allclose(loss, want_loss, rtol=1e-6)
    np.testing.assert_array_equal(hits, want_hits)
    names = ["x", "kernel", "bias"]
    for name, got, want in zip(names, grads, want_grads, strict=True):
        np.testing.assert_allclose(got, 2.5 * want, rtol=1e-5, atol=1e-7, err_msg=name)


@pytest.mark.parametrize("jit", [True, False], ids=["xla", "graph"])
def test_tied_logits_hit_as_keras_argmax_does(jit):
    # An untrained or collapsed output layer gives rows of equal logits:
    # the hit is the first largest logit's, as in Keras' accuracy.
    x, dense, _ = problem(tokens=6, vocab=5)
    dense.kernel.assign(tf.zeros_like(dense.kernel))
    dense.bias.assign([0.0, 2.0, 1.0, 2.0, 2.0])  # ids 1, 3 and 4 tie
    targets = tf.constant([0, 1, 2, 3, 4, 1], tf.int32)
    _, want_hits, _ = keras_reference(x, dense, targets)
    loss, hits = linear_cross_entropy(
        x, dense.kernel, dense.bias, targets, training=False, jit=jit
    )
    np.testing.assert_array_equal(want_hits, [0, 1, 0, 0, 0, 1])
    np.testing.assert_array_equal(hits, want_hits)


def test_the_forward_pass_alone_gives_the_same_numbers_in_a_graph():
    x, dense, targets = problem(tokens=40)
    want_loss, want_hits, _ = keras_reference(x, dense, targets)

    @tf.function
    def evaluate(x, targets):
        return linear_cross_entropy(
            x, dense.kernel, dense.bias, targets, training=False, rows=16
        )

    loss, hits = evaluate(x, targets)
    np.testing.assert_allclose(loss, want_loss, rtol=1e-6)
    np.testing.assert_array_equal(hits, want_hits)
    assert hits.shape == (40,)


def test_chunks_hold_64_megabytes_of_logits():
    assert chunk_rows(10_000) == 1_600
    assert chunk_rows(100) == 160_000  # a character vocabulary: one chunk
    assert chunk_rows(10**8) == 64  # never fewer rows than that


def fit(kernel, **params):
    return kernel_fit(kernel, DOCS, **{"epochs": 2, **params})


def test_a_fit_in_many_chunks_follows_keras_loss_curve(monkeypatch):
    # 8 x 20 = 160 tokens a batch in chunks of 64: three chunks, the last
    # one short; validation's batches too.
    keras_path = fit("keras")
    monkeypatch.setattr(_fused_loss, "CHUNK_ELEMENTS", 1)
    fused = fit("fused")
    assert fused.history_.keys() == keras_path.history_.keys()
    for key in fused.history_:
        tolerance = dict(rtol=1e-3) if "loss" in key else dict(atol=0.02)
        np.testing.assert_allclose(
            fused.history_[key], keras_path.history_[key], **tolerance, err_msg=key
        )
