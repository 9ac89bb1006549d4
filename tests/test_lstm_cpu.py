"""The fused CPU training path against Keras' own LSTM layer.

Forward outputs, final states and gradients are compared with Keras'
``keras.layers.LSTM`` on the same weights, the hand-written backward pass
with finite differences, and whole seeded fits with fits through Keras'
path; then when each path is chosen.
"""

import numpy as np
import pytest
import tensorflow as tf
from helpers import kernel_fit

from sklstm import _lstm_cpu, _model
from sklstm._model import Network, build_model

VOCAB = 40
BATCH, TIME = 5, 60

DOCS = [
    "the cat sat on the mat and the dog sat on the log. " * 6,
    "a bird sang in the tree while the cat slept. " * 6,
    "the dog ran after the cat across the garden. " * 6,
]


def network(units, seed=0):
    """A built network with random, non-zero biases."""
    model = build_model(
        VOCAB, embedding_dim=8, units=units, dense_units=None, dropout=0.0,
        l2=0.0, seed=seed,
    )  # fmt: skip
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if layer.name.startswith("lstm_"):
            layer.cell.bias.assign(rng.normal(0, 0.5, layer.cell.bias.shape))
    return Network(model)


def inputs(net, carried, seed=1):
    rng = np.random.default_rng(seed)
    ids = tf.constant(rng.integers(1, VOCAB, size=(BATCH, TIME)), tf.int32)
    states = net.zero_states(BATCH)
    if carried:
        states = [tf.constant(rng.normal(0, 0.5, s.shape), tf.float32) for s in states]
    return ids, states


def keras_pass(net, ids, states):
    x, new_states = net.features(ids, states, training=True)
    return net.head(x), new_states  # (batch, time, vocab)


def fused_pass(net, ids, states, jit, table):
    logits, new_states = net.fused_logits(
        tf.transpose(ids), states, training=True, jit=jit, table=table
    )
    return tf.transpose(logits, [1, 0, 2]), new_states


def loss_of(logits, states, seed=2):
    """A loss that reaches every output and every final state."""
    rng = np.random.default_rng(seed)
    weight = tf.constant(rng.normal(size=logits.shape), tf.float32)
    loss = tf.reduce_sum(logits * weight)
    for k, s in enumerate(states):
        loss += (0.5 + k) * tf.reduce_sum(tf.sin(s))
    return loss


def gradients(net, passer, ids, states):
    with tf.GradientTape() as tape:
        tape.watch(states)
        logits, new_states = passer(net, ids, states)
        loss = loss_of(logits, new_states)
    variables = net.model.trainable_weights
    grads = tape.gradient(loss, [*variables, *states])
    return logits, new_states, [tf.convert_to_tensor(g) for g in grads]


# Both ways the first layer projects its input: through the embedding table
# (small vocabularies) and through every token's embedding.
@pytest.mark.parametrize("table", [True, False], ids=["table", "matmul"])
@pytest.mark.parametrize("jit", [True, False], ids=["xla", "graph"])
@pytest.mark.parametrize("carried", [False, True], ids=["zero", "carried"])
@pytest.mark.parametrize("units", [(16,), (16, 12)], ids=["1-layer", "2-layer"])
def test_outputs_states_and_gradients_equal_keras(units, carried, jit, table):
    net = network(units)
    ids, states = inputs(net, carried)
    want_logits, want_states, want_grads = gradients(net, keras_pass, ids, states)
    got_logits, got_states, got_grads = gradients(
        net, lambda n, i, s: fused_pass(n, i, s, jit, table), ids, states
    )
    np.testing.assert_allclose(got_logits, want_logits, rtol=1e-5, atol=1e-5)
    for got, want in zip(got_states, want_states, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    names = [v.path for v in net.model.trainable_weights] + [
        f"initial state {k}" for k in range(len(states))
    ]
    assert len(names) == len(want_grads) == len(got_grads)
    for name, got, want in zip(names, got_grads, want_grads, strict=True):
        relative = float(tf.norm(got - want) / tf.norm(want))
        assert relative < 1e-4, f"gradient of {name}: relative error {relative:.2e}"


@pytest.mark.parametrize("jit", [True, False], ids=["xla", "graph"])
def test_backward_pass_matches_finite_differences(jit):
    rng = np.random.default_rng(3)
    time, batch, n_in, units = 7, 3, 4, 5

    def f(x, kernel, recurrent, bias, h0, c0):
        outputs, h, c = _lstm_cpu.lstm_time_major(
            x, kernel, recurrent, bias, h0, c0, jit=jit
        )
        return tf.reduce_sum(outputs * weight) + tf.reduce_sum(h * h) + tf.reduce_sum(c)

    def draw(*shape):
        return tf.constant(rng.normal(0, 0.5, shape), tf.float64)

    weight = draw(time, batch, units)
    args = [
        draw(time, batch, n_in),
        draw(n_in, 4 * units),
        draw(units, 4 * units),
        draw(4 * units),
        draw(batch, units),
        draw(batch, units),
    ]
    theoretical, numerical = tf.test.compute_gradient(f, args, delta=1e-6)
    for name, got, want in zip(
        ["x", "kernel", "recurrent_kernel", "bias", "h0", "c0"],
        theoretical,
        numerical,
        strict=True,
    ):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7, err_msg=name)


def fit(kernel, **params):
    return kernel_fit(kernel, DOCS, **{**params})


@pytest.mark.parametrize(
    "params",
    [
        dict(),
        dict(units=(16, 12)),
        dict(stateful=True, validation_fraction=0),
        dict(l2=0.01, dense_units=8),
    ],
    ids=["1-layer", "2-layer", "stateful", "l2-dense"],
)
def test_a_seeded_fit_follows_keras_loss_curve(params):
    # The epochs end in a partial batch and validation windows are shorter
    # than training's: the fused path pads both to one compiled shape.
    fused, keras_path = fit("fused", **params), fit("keras", **params)
    assert_same_curves(fused, keras_path)


def test_a_fit_compiled_by_xla_follows_keras_loss_curve(monkeypatch):
    # The loops and the output layer's loss as XLA kernels, as a fit with
    # enough work to earn back their compile time runs them.
    monkeypatch.setattr(_lstm_cpu, "XLA_MIN_MACS", 0)
    monkeypatch.setattr(_lstm_cpu, "_compiled_shapes", set())
    assert_same_curves(fit("fused"), fit("keras"))


def assert_same_curves(fused, keras_path):
    assert (fused.training_kernel_, keras_path.training_kernel_) == ("fused", "keras")
    assert fused.history_.keys() == keras_path.history_.keys()
    for key in fused.history_:
        tolerance = dict(rtol=1e-3) if "loss" in key else dict(atol=0.02)
        np.testing.assert_allclose(
            fused.history_[key], keras_path.history_[key], **tolerance, err_msg=key
        )
    assert fused.score(DOCS) == pytest.approx(keras_path.score(DOCS), rel=1e-3)


def test_the_trained_network_is_keras_own():
    model = fit("fused", epochs=1)
    kinds = {type(layer).__name__ for layer in model.model_.layers}
    assert "LSTM" in kinds
    assert model.generate("the ", max_new_tokens=5, random_state=0)


@pytest.fixture
def spy(monkeypatch):
    """Counts the layers traced through the fused path."""
    calls = []
    for name in ("lstm_time_major", "embedded_lstm_time_major"):
        real = getattr(_model, name)

        def traced(*args, _real=real, **kwargs):
            calls.append(kwargs.get("jit"))
            return _real(*args, **kwargs)

        monkeypatch.setattr(_model, name, traced)
    return calls


def test_auto_trains_through_the_fused_path_on_cpu(spy):
    model = fit("auto", epochs=1)
    assert model.training_kernel_ == "fused"
    assert spy  # the train step was traced through it


def test_keras_kernel_trains_through_keras_layer(spy):
    model = fit("keras", epochs=1)
    assert model.training_kernel_ == "keras"
    assert not spy


@pytest.mark.parametrize(
    "params, reason",
    [
        (dict(recurrent_dropout=0.1), "recurrent_dropout=0.1"),
        (dict(dtype_policy="mixed_bfloat16"), "computes in bfloat16"),
    ],
)
def test_settings_the_fused_path_lacks_fall_back_to_keras(spy, params, reason, recwarn):
    model = fit("auto", epochs=1, **params)
    assert model.training_kernel_ == "keras"
    assert not spy
    # No warning about the fallback (recurrent_dropout's own cuDNN warning
    # is issued once per process, by another part of fit).
    assert not [w for w in recwarn if "fused" in str(w.message)]
    with pytest.raises(ValueError, match=f"training_kernel='fused' cannot.*{reason}"):
        fit("fused", epochs=1, **params)


def test_on_a_gpu_auto_keeps_keras_path(spy, monkeypatch):
    monkeypatch.setattr(_lstm_cpu, "on_gpu", lambda strategy=None: True)
    assert fit("auto", epochs=1).training_kernel_ == "keras"
    assert fit("fused", epochs=1).training_kernel_ == "fused"


def test_training_kernel_is_validated():
    with pytest.raises(ValueError, match="The 'training_kernel' parameter"):
        fit("cudnn")


def test_the_fused_path_trains_under_a_strategy():
    strategy = tf.distribute.MirroredStrategy()  # the CPU here
    plain = fit("fused", epochs=2)
    mirrored = fit("fused", epochs=2, distribution_strategy=strategy)
    assert mirrored.training_kernel_ == "fused"
    np.testing.assert_allclose(
        mirrored.history_["loss"], plain.history_["loss"], rtol=1e-4
    )


def test_xla_serves_fits_with_enough_work_and_shapes_compiled_before(monkeypatch):
    monkeypatch.setattr(_lstm_cpu, "_compiled_shapes", set())
    small = ((8, 20), [(8, 16)])
    big = ((64, 100), [(64, 256)])
    assert not _lstm_cpu.use_xla(*small, planned_steps=10)
    assert _lstm_cpu.use_xla(*big, planned_steps=100)
    assert not _lstm_cpu.use_xla((64, 100), [(64, 128)], planned_steps=1)
    assert _lstm_cpu.use_xla(*big, planned_steps=1)  # compiled already
    # Until max_time runs out: the time bounds the work.
    assert not _lstm_cpu.use_xla((32, 50), [(64, 256)], None, max_time=1)
    assert _lstm_cpu.use_xla((32, 50), [(64, 256)], None, max_time=600)


def test_fits_of_the_same_shapes_reuse_the_compiled_loops(monkeypatch):
    monkeypatch.setattr(_lstm_cpu, "XLA_MIN_MACS", 0)  # XLA even for tiny fits
    forward, backward = _lstm_cpu._LOOPS[True]
    fit("fused", epochs=1, units=20)
    traced = forward.experimental_get_tracing_count()
    backward_traced = backward.experimental_get_tracing_count()
    again = fit("fused", epochs=1, units=20, random_state=1)
    assert again.training_kernel_ == "fused"
    # The second network traced no new loops: the programs XLA compiled for
    # the first one (kept by shape) serve it.
    assert forward.experimental_get_tracing_count() == traced
    assert backward.experimental_get_tracing_count() == backward_traced
