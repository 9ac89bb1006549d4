"""AWD-LSTM's regularisers: weight dropout, embedding dropout, tied weights.

The dropped weights' gradients are compared with a reference computed on an
explicit dropped copy of the network, on Keras' path and on the fused one;
one whole training step with plain SGD is compared with that reference's
update. Tied networks are recomputed in numpy. Then the estimator: training
only (scoring and generation untouched), reproducibility, every level,
stateful, warm starts, the safe format and joblib.
"""

import io
import json
import re
import zipfile

import joblib
import keras
import numpy as np
import pytest
import tensorflow as tf
from corpora import QUICK, SENTENCES

import sklstm
from sklstm import LSTMTextGenerator, TextSequencer, _regularisers
from sklstm._model import Network, build_model
from sklstm._regularisers import (
    AUTO_DROPOUT_RATE,
    AUTO_RATE,
    auto_dropout,
    auto_weight_dropout,
    drop,
    dropped_weights,
)
from sklstm._tokens import EOD_ID, OOV_ID, PAD_ID
from sklstm._training import Trainer
from sklstm.sequencer import encode_texts

VOCAB, BATCH, TIME = 30, 4, 12

TINY = dict(QUICK, embedding_dim=8, batch_size=8)
REGULARISED = dict(weight_dropout=0.4, embedding_dropout=0.3)


def network(units=(10, 7), tie_weights=False, dense_units=None, seed=0):
    model = build_model(
        VOCAB, embedding_dim=6, units=units, dense_units=dense_units, dropout=0.0,
        l2=0.0, seed=seed, tie_weights=tie_weights,
    )  # fmt: skip
    rng = np.random.default_rng(seed)
    for layer in model.layers:  # non-zero biases reach every gradient
        if layer.name.startswith("lstm_"):
            layer.cell.bias.assign(rng.normal(0, 0.5, layer.cell.bias.shape))
    return Network(model)


def batch(seed=1):
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, VOCAB, size=(BATCH, TIME + 1)).astype(np.int32)
    return tf.constant(ids[:, :-1]), tf.constant(ids[:, 1:])


def masks(net, seed=2, weight=0.5, rows=0.4):
    """Fixed masks (already scaled) for the embedding rows and each
    recurrent kernel."""
    rng = np.random.default_rng(seed)
    out = {"embedding": (rng.random((VOCAB, 1)) >= rows) / (1 - rows)}
    for lstm in net.lstms:
        shape = lstm.cell.recurrent_kernel.shape
        out[lstm.name] = (rng.random(shape) >= weight) / (1 - weight)
    return {name: tf.constant(m, tf.float32) for name, m in out.items()}


def variable_of(net, name):
    if name == "embedding":
        return net.embedding.embeddings
    return next(x for x in net.lstms if x.name == name).cell.recurrent_kernel


def loss_and_grads(net, ids, targets, fused, dropped_masks=None, table=False):
    """Mean cross-entropy and its gradients for every trainable weight,
    with the weights in ``dropped_masks`` dropped inside the tape."""
    with tf.GradientTape() as tape:
        dropped = {
            name: tf.convert_to_tensor(variable_of(net, name)) * mask
            for name, mask in (dropped_masks or {}).items()
        }
        states = net.zero_states(BATCH)
        if fused:
            logits, _ = net.fused_logits(
                tf.transpose(ids), states, training=True, jit=False, table=table,
                dropped=dropped,
            )  # fmt: skip
            logits = tf.transpose(logits, [1, 0, 2])
        else:
            x, _ = net.features(ids, states, training=True, dropped=dropped)
            logits = net.head(x)
        loss = tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(targets, logits)
        )
    variables = net.model.trainable_weights
    grads = tape.gradient(loss, variables)
    return float(loss), {v.path: tf.convert_to_tensor(g).numpy() for v, g in zip(
        variables, grads, strict=True
    )}  # fmt: skip


def reference(net, ids, targets, dropped_masks):
    """The same loss and gradients from an explicit copy of the network whose
    weights are the dropped ones; the chain rule through the mask gives the
    raw weights' gradients: ``dL/dW = dL/dW_dropped * mask``. A tied output
    layer reads the embedding matrix undropped: its own copy here, whose
    gradient adds to the embedding's."""
    copy = keras.models.clone_model(net.model)
    copy.set_weights(net.model.get_weights())
    twin = Network(copy)
    for name, mask in dropped_masks.items():
        variable = variable_of(twin, name)
        variable.assign(variable.numpy() * mask.numpy())
    output_table = tf.Variable(net.embedding.embeddings.numpy())
    with tf.GradientTape() as tape:
        x, _ = twin.features(ids, twin.zero_states(BATCH), training=True)
        if twin.tied:
            scale, bias = twin.head.logits.kernel, twin.head.bias
            logits = tf.matmul(x, tf.transpose(output_table) * scale) + bias
        else:
            logits = twin.head(x)
        loss = tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(targets, logits)
        )
    variables = copy.trainable_weights
    *grads, d_output = tape.gradient(loss, [*variables, output_table])
    grads = {
        v.path: tf.convert_to_tensor(g).numpy()
        for v, g in zip(variables, grads, strict=True)
    }
    for name, mask in dropped_masks.items():
        grads[variable_of(twin, name).path] *= mask.numpy()
    if twin.tied:
        grads["embedding/embeddings"] += d_output.numpy()
    return float(loss), grads


# --------------------------------------------------------------------------
# masks


def test_drop_rows_zeroes_whole_rows_and_scales_the_rest():
    seed = keras.random.SeedGenerator(3)
    table = tf.ones([400, 5])
    dropped = drop(table, 0.25, seed, rows=True).numpy()
    row_values = np.unique(dropped, axis=1)
    assert row_values.shape == (400, 1)  # every row is all kept or all dropped
    np.testing.assert_allclose(np.unique(dropped), [0.0, 1 / 0.75], rtol=1e-6)
    assert 0.15 < np.mean(dropped[:, 0] == 0) < 0.35
    again = drop(table, 0.25, seed, rows=True).numpy()
    assert not np.array_equal(dropped, again)  # a new mask every batch


def test_drop_elements_is_seeded():
    kernel = tf.ones([20, 40])
    first = drop(kernel, 0.5, keras.random.SeedGenerator(7)).numpy()
    second = drop(kernel, 0.5, keras.random.SeedGenerator(7)).numpy()
    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(np.unique(first), [0.0, 2.0])
    assert 0.4 < np.mean(first == 0) < 0.6


def test_dropped_weights_names_what_it_drops():
    net = network()
    seed = keras.random.SeedGenerator(0)
    assert dropped_weights(net, 0.0, 0.0, seed) == {}
    assert set(dropped_weights(net, 0.3, 0.0, seed)) == {"lstm_0", "lstm_1"}
    assert set(dropped_weights(net, 0.0, 0.3, seed)) == {"embedding"}


# --------------------------------------------------------------------------
# gradients through the masks


@pytest.mark.parametrize(
    "fused,table", [(False, False), (True, False), (True, True)]
)  # fmt: skip
@pytest.mark.parametrize("tie_weights", [False, True])
def test_dropped_gradients_match_an_explicit_dropped_copy(fused, table, tie_weights):
    net = network(tie_weights=tie_weights)
    ids, targets = batch()
    dropped_masks = masks(net)
    loss, grads = loss_and_grads(net, ids, targets, fused, dropped_masks, table)
    want_loss, want = reference(net, ids, targets, dropped_masks)
    assert loss == pytest.approx(want_loss, rel=1e-5)
    assert grads.keys() == want.keys()
    for path, grad in grads.items():
        np.testing.assert_allclose(grad, want[path], rtol=2e-4, atol=1e-6, err_msg=path)
    # The masks matter: undropped gradients differ.
    _, plain = loss_and_grads(net, ids, targets, fused)
    recurrent = net.lstms[0].cell.recurrent_kernel.path
    assert not np.allclose(plain[recurrent], grads[recurrent])


def _masks_of_trainer(net, rates, seed):
    """The masks a trainer seeded with ``seed`` draws for its first batch:
    the same generator, drawn in the same order."""
    generator = keras.random.SeedGenerator(seed)
    dropped = dropped_weights(net, *rates, generator)
    out = {}
    for name, value in dropped.items():
        raw = tf.convert_to_tensor(variable_of(net, name)).numpy()
        scale = 1 / (1 - (rates[1] if name == "embedding" else rates[0]))
        mask = np.where(value.numpy() == 0, 0.0, scale)
        np.testing.assert_allclose(value.numpy(), raw * mask, rtol=1e-6)
        out[name] = tf.constant(mask, tf.float32)
    return out


@pytest.mark.parametrize("fused", [False, True])
def test_a_training_step_updates_the_raw_weights_by_the_chain_rule(fused):
    net = network()
    before = [w.numpy() for w in net.model.trainable_weights]
    rates, seed = (0.5, 0.3), 11
    ids, targets = batch()
    dropped_masks = _masks_of_trainer(net, rates, seed)
    _, want = reference(net, ids, targets, dropped_masks)
    trainer = Trainer(
        net.model, fused=fused, jit=False, shape=(BATCH, TIME),
        weight_dropout=rates[0], embedding_dropout=rates[1], seed=seed,
    )  # fmt: skip
    trainer.compile(
        optimizer=keras.optimizers.SGD(learning_rate=1.0),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    trainer.train_on_batch(ids, targets)
    for variable, old in zip(net.model.trainable_weights, before, strict=True):
        np.testing.assert_allclose(
            variable.numpy(), old - want[variable.path], rtol=2e-4, atol=1e-6,
            err_msg=variable.path,
        )  # fmt: skip


# --------------------------------------------------------------------------
# tied weights


def _numpy_tied_logits(net, ids):
    """Logits of a tied network recomputed in float64 numpy."""
    weights = {v.path: v.numpy().astype(np.float64) for v in net.model.weights}
    x = weights["embedding/embeddings"][ids]  # (batch, time, embedding_dim)
    for lstm in net.lstms:
        kernel, recurrent, bias = (
            weights[f"{lstm.name}/lstm_cell/{n}"]
            for n in ("kernel", "recurrent_kernel", "bias")
        )
        h = np.zeros((ids.shape[0], lstm.units))
        c = np.zeros_like(h)
        outputs = []
        for t in range(ids.shape[1]):
            i, f, g, o = np.split(x[:, t] @ kernel + h @ recurrent + bias, 4, axis=1)
            c = 1 / (1 + np.exp(-f)) * c + 1 / (1 + np.exp(-i)) * np.tanh(g)
            h = 1 / (1 + np.exp(-o)) * np.tanh(c)
            outputs.append(h)
        x = np.stack(outputs, axis=1)
    if "projection/kernel" in weights:
        x = x @ weights["projection/kernel"]
    table = weights["embedding/embeddings"]
    return x @ table.T * weights["logits/kernel"] + weights["logits/bias"]


@pytest.mark.parametrize("units,projected", [((10, 7), True), ((10, 6), False)])
def test_tied_network_shares_the_embedding_matrix(units, projected):
    net = network(units=units, tie_weights=True)
    net.head.logits.kernel.assign(np.linspace(0.5, 1.5, VOCAB))
    net.head.bias.assign(np.linspace(-1, 1, VOCAB))
    assert net.tied and (net.projection is not None) == projected
    paths = [v.path for v in net.model.weights]
    assert paths.count("embedding/embeddings") == 1
    assert not any(p.startswith("logits/") and p.endswith("embeddings") for p in paths)
    ids, _ = batch()
    want = _numpy_tied_logits(net, ids.numpy())
    np.testing.assert_allclose(net.model(ids), want, rtol=1e-4, atol=1e-5)
    x, _ = net.features(ids, net.zero_states(BATCH))
    np.testing.assert_allclose(net.head(x), want, rtol=1e-4, atol=1e-5)
    # The fused loss reads the tied matrix transposed.
    fused, _ = net.fused_logits(tf.transpose(ids), net.zero_states(BATCH), jit=False)
    np.testing.assert_allclose(
        tf.transpose(fused, [1, 0, 2]), want, rtol=1e-4, atol=1e-5
    )


def test_tied_weights_have_fewer_parameters_for_a_word_model():
    params = dict(
        TINY, sequencer=TextSequencer(level="word"), embedding_dim=8, units=16, epochs=1
    )
    untied = LSTMTextGenerator(**params).fit(SENTENCES)
    tied = LSTMTextGenerator(**params, tie_weights=True).fit(SENTENCES)
    vocab, features = untied.vocab_size_, 16
    saved = features * vocab - (features * 8 + vocab)  # kernel - (projection + scale)
    assert untied.model_.count_params() - tied.model_.count_params() == saved
    assert saved > 0


@pytest.fixture(scope="module")
def tied_char():
    return LSTMTextGenerator(**TINY, tie_weights=True, **REGULARISED).fit(SENTENCES)


@pytest.fixture(scope="module")
def tied_word():
    return LSTMTextGenerator(
        **TINY, sequencer=TextSequencer(level="word"), tie_weights=True, **REGULARISED
    ).fit(SENTENCES)


@pytest.mark.parametrize("fixture", ["tied_char", "tied_word"])
def test_tied_greedy_generation_matches_numpy(request, fixture):
    model = request.getfixturevalue(fixture)
    net = Network(model.model_)
    assert net.tied and net.projection is not None  # 12 units, embedding 8
    prompt = "the black cat"
    ids = [EOD_ID, *encode_texts(model.sequencer_, [prompt])[0].tolist()]
    out = []
    for _ in range(8):
        logits = _numpy_tied_logits(net, np.array([ids]))[0, -1]
        logits[[PAD_ID, OOV_ID]] = -np.inf
        token = int(np.argmax(logits))
        if token == EOD_ID:
            break
        out.append(token)
        ids.append(token)
    want = model.sequencer_.inverse_transform([out])[0]
    assert model.generate(prompt, max_new_tokens=8, temperature=0) == want
    proba = model.predict_proba([prompt])[0]
    logits = _numpy_tied_logits(net, np.array([ids[: len(ids) - len(out)]]))[0, -1]
    np.testing.assert_allclose(proba, np.exp(logits) / np.exp(logits).sum(), atol=1e-5)


# --------------------------------------------------------------------------
# the estimator's parameters


@pytest.mark.parametrize(
    "params,message",
    [
        (
            {"weight_dropout": 1.0},
            "The 'weight_dropout' parameter of LSTMTextGenerator must be a float "
            ">= 0 and < 1, or 'auto'. Got 1.0 instead.",
        ),
        (
            {"weight_dropout": "0.5"},
            "The 'weight_dropout' parameter of LSTMTextGenerator must be a float "
            ">= 0 and < 1, or 'auto'. Got '0.5' instead.",
        ),
        (
            {"embedding_dropout": -0.1},
            "The 'embedding_dropout' parameter of LSTMTextGenerator must be a "
            "float >= 0 and < 1. Got -0.1 instead.",
        ),
        (
            {"tie_weights": "yes"},
            "The 'tie_weights' parameter of LSTMTextGenerator must be a bool. "
            "Got 'yes' instead.",
        ),
    ],
)
def test_parameters_are_checked(params, message):
    model = LSTMTextGenerator(**TINY, **params)
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        model.fit(SENTENCES)
    assert not hasattr(model, "model_")


def test_regularisers_defaults():
    params = LSTMTextGenerator().get_params()
    assert params["weight_dropout"] == "auto"
    assert params["dropout"] == "auto"
    assert params["embedding_dropout"] == 0.0
    assert params["tie_weights"] is False


def test_auto_weight_dropout_rises_with_the_planned_passes():
    rates = [auto_weight_dropout(p) for p in (1, 5, 10, 15, 20, 30, 31, 500)]
    assert rates[:3] == [0.0, 0.0, 0.0]  # a few passes: none
    assert rates[3:5] == pytest.approx([0.0625, 0.125])
    assert rates[5:] == [0.25, 0.25, 0.25]


def test_auto_weight_dropout_of_a_fit_of_few_epochs_is_none():
    model = LSTMTextGenerator(**TINY).fit(SENTENCES)  # 2 epochs, "auto"
    plain = LSTMTextGenerator(**TINY, weight_dropout=0.0).fit(SENTENCES)
    assert model.weight_dropout_ == plain.weight_dropout_ == 0.0
    assert model.history_ == plain.history_


def test_auto_weight_dropout_trains_at_the_rate_of_its_epochs(monkeypatch):
    monkeypatch.setattr(_regularisers, "AUTO_PASSES", (0.0, 4.0))  # 2 -> half
    model = LSTMTextGenerator(**TINY).fit(SENTENCES)
    fixed = LSTMTextGenerator(**TINY, weight_dropout=0.125).fit(SENTENCES)
    assert model.weight_dropout_ == fixed.weight_dropout_ == 0.125
    assert model.history_ == fixed.history_


@pytest.mark.parametrize("training_kernel", ["fused", "keras"])
def test_auto_weight_dropout_under_max_time_starts_after_the_first_epoch(
    monkeypatch, training_kernel
):
    # Any pace plans at least one pass: the full rate from the second epoch.
    monkeypatch.setattr(_regularisers, "AUTO_PASSES", (0.0, 1.0))
    params = dict(
        TINY,
        epochs=3,
        max_time=600,
        learning_rate_schedule="constant",  # no clock in the loss curve
        training_kernel=training_kernel,
    )
    model = LSTMTextGenerator(**params).fit(SENTENCES)
    plain = LSTMTextGenerator(**params, weight_dropout=0.0).fit(SENTENCES)
    assert model.training_kernel_ == training_kernel
    assert model.n_epochs_ == plain.n_epochs_ == 3
    assert model.weight_dropout_ == AUTO_RATE and plain.weight_dropout_ == 0.0
    # The first epoch trains without dropped weights, the next ones with.
    assert model.history_["loss"][0] == plain.history_["loss"][0]
    assert model.history_["loss"][1] != plain.history_["loss"][1]
    assert model.history_["loss"][2] > plain.history_["loss"][2]


def test_auto_dropout_rises_with_the_planned_passes():
    rates = [auto_dropout(p) for p in (1, 10, 15, 20, 40, 41, 500)]
    assert rates[:3] == [0.0, 0.0, 0.0]  # up to 15 passes: none
    assert rates[3] == pytest.approx(0.06)
    assert rates[4:] == [AUTO_DROPOUT_RATE] * 3 == [0.3] * 3


@pytest.mark.parametrize("fused", [False, True])
def test_dropped_outputs_follow_every_lstm_layer(fused):
    net = network()  # LSTM 10 then 7, no Dense layer
    ids, _ = batch()
    widths = []

    def outputs(x):  # what dropout="auto" drops
        widths.append(x.shape[-1])
        return tf.zeros_like(x)

    states = net.zero_states(BATCH)
    dropped = {"outputs": outputs}
    if fused:
        x, _ = net.fused_features(
            tf.transpose(ids), states, training=True, jit=False, dropped=dropped
        )
    else:
        x, _ = net.features(ids, states, training=True, dropped=dropped)
    assert widths == [10, 7]
    np.testing.assert_array_equal(x.numpy(), 0.0)


def test_dropped_outputs_zero_their_share_and_scale_the_rest():
    x = tf.ones([64, 100, 32])
    out = drop(x, 0.3, keras.random.SeedGenerator(5)).numpy()
    kept = out != 0
    assert abs(kept.mean() - 0.7) < 0.01  # 204,800 draws
    np.testing.assert_allclose(out[kept], 1 / 0.7, rtol=1e-6)


def test_auto_dropout_trains_at_the_rate_of_its_epochs(monkeypatch):
    monkeypatch.setattr(_regularisers, "AUTO_DROPOUT_PASSES", (0.0, 4.0))  # 2: half
    params = dict(TINY, weight_dropout=0.0)
    model = LSTMTextGenerator(**params).fit(SENTENCES)
    plain = LSTMTextGenerator(**params, dropout=0.0).fit(SENTENCES)
    assert model.dropout_ == AUTO_DROPOUT_RATE / 2 and plain.dropout_ == 0.0
    # The trainer drops the outputs: the network has no Dropout layer.
    names = [layer.name for layer in model.model_.layers]
    assert not [name for name in names if name.startswith("dropout")]
    assert model.history_["loss"] != plain.history_["loss"]
    # Scoring does not drop: the same network scores the same twice.
    assert model.score(SENTENCES) == model.score(SENTENCES)


def test_fixed_dropout_is_the_networks_own_layers():
    model = LSTMTextGenerator(**TINY, dropout=0.2).fit(SENTENCES)
    assert model.dropout_ == 0.2
    assert model.model_.get_layer("dropout_0").rate == 0.2


@pytest.mark.parametrize("training_kernel", ["fused", "keras"])
def test_auto_dropout_under_max_time_starts_after_the_first_epoch(
    monkeypatch, training_kernel
):
    monkeypatch.setattr(_regularisers, "AUTO_DROPOUT_PASSES", (0.0, 1.0))
    params = dict(
        TINY,
        epochs=3,
        max_time=600,
        weight_dropout=0.0,
        learning_rate_schedule="constant",  # no clock in the loss curve
        training_kernel=training_kernel,
    )
    model = LSTMTextGenerator(**params).fit(SENTENCES)
    plain = LSTMTextGenerator(**params, dropout=0.0).fit(SENTENCES)
    assert model.training_kernel_ == training_kernel
    assert model.dropout_ == AUTO_DROPOUT_RATE and plain.dropout_ == 0.0
    assert model.weight_dropout_ == 0.0
    assert model.history_["loss"][0] == plain.history_["loss"][0]
    assert model.history_["loss"][1] != plain.history_["loss"][1]


# --------------------------------------------------------------------------
# training only; seeded


def _outputs(model):
    prompts = ["the ", "it was", "the grey dog sat"]
    return (
        model.score(SENTENCES),
        model.score_samples(SENTENCES),
        model.predict_proba(prompts),
        model.generate(prompts, max_new_tokens=20, random_state=3),
    )


@pytest.fixture(scope="module")
def regularised():
    return LSTMTextGenerator(**TINY, **REGULARISED).fit(SENTENCES)


def test_scoring_and_generation_ignore_the_regularisers(regularised):
    before = _outputs(regularised)
    regularised.set_params(weight_dropout=0.0, embedding_dropout=0.0)
    try:
        after = _outputs(regularised)
    finally:
        regularised.set_params(**REGULARISED)
    assert before[0] == after[0]
    np.testing.assert_array_equal(before[1], after[1])
    np.testing.assert_array_equal(before[2], after[2])
    assert before[3] == after[3]
    # Scores are those of the network's own weights, undropped.
    doc = SENTENCES[5]
    ids = encode_texts(regularised.sequencer_, [doc])[0]
    inputs = np.array([[EOD_ID, *ids]], dtype=np.int32)
    logits = np.asarray(regularised.model_(inputs, training=False))[0]
    logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    want = logp[np.arange(len(ids) + 1), [*ids, EOD_ID]].sum()
    assert regularised.score_samples([doc])[0] == pytest.approx(want, rel=1e-5)


def test_seeded_fits_are_reproducible_and_the_regularisers_act(regularised):
    again = LSTMTextGenerator(**TINY, **REGULARISED).fit(SENTENCES)
    plain = LSTMTextGenerator(**TINY).fit(SENTENCES)
    assert regularised.training_kernel_ == "fused"  # no fallback on CPU
    for a, b in zip(regularised.model_.weights, again.model_.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert regularised.history_ == again.history_
    assert regularised.history_["loss"] != plain.history_["loss"]
    # Dropped weights make the training loss worse than the plain fit's.
    assert regularised.history_["loss"][-1] > plain.history_["loss"][-1]


@pytest.fixture(scope="module")
def keras_plain():
    """Trained on Keras' path without the regularisers; read only."""
    return LSTMTextGenerator(**TINY, training_kernel="keras").fit(SENTENCES)


@pytest.mark.parametrize("rates", [{"weight_dropout": 0.5}, {"embedding_dropout": 0.5}])
def test_keras_path_trains_with_dropped_weights(rates, keras_plain):
    params = dict(TINY, training_kernel="keras")
    plain = keras_plain
    model = LSTMTextGenerator(**params, **rates).fit(SENTENCES)
    again = LSTMTextGenerator(**params, **rates).fit(SENTENCES)
    assert model.training_kernel_ == "keras"
    assert model.history_ == again.history_
    assert model.history_["loss"] != plain.history_["loss"]
    # Keras' layer itself is unchanged, so cuDNN stays eligible on a GPU.
    lstm = model.model_.get_layer("lstm_0")
    assert lstm.recurrent_dropout == 0 and lstm.use_cudnn == "auto"


# --------------------------------------------------------------------------
# levels, stateful, warm starts, persistence


def _levels():
    levels = ["char", "word"]
    try:
        import tokenizers  # noqa: F401
    except ImportError:  # pragma: no cover - the test extra installs it
        return levels
    return [*levels, "subword"]


@pytest.mark.parametrize("level", _levels())
def test_every_level_saves_loads_and_pickles(level, tmp_path, request):
    if level in ("char", "word"):  # tied and regularised: the fixtures
        model = request.getfixturevalue(f"tied_{level}")
    else:
        model = LSTMTextGenerator(
            **TINY,
            sequencer=TextSequencer(level=level, vocab_size=300),
            tie_weights=True,
            **REGULARISED,
        ).fit(SENTENCES)
    want = _outputs(model)
    path = tmp_path / "model.sklstm"
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        params = json.loads(archive.read("sklstm.json"))["params"]
    assert params["tie_weights"] is True
    assert params["weight_dropout"] == 0.4 and params["embedding_dropout"] == 0.3
    for copy in (sklstm.load(path), joblib.load(_pickled(model))):
        assert copy.get_params()["tie_weights"] is True
        assert copy.get_params()["weight_dropout"] == 0.4
        got = _outputs(copy)
        assert got[0] == pytest.approx(want[0], rel=1e-6)
        np.testing.assert_allclose(got[2], want[2], rtol=1e-5, atol=1e-7)
        assert got[3] == want[3]


def _pickled(model):
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    buffer.seek(0)
    return buffer


def test_files_without_the_parameters_load_with_the_defaults(tmp_path):
    model = LSTMTextGenerator(**dict(TINY, epochs=1)).fit(SENTENCES)
    path = tmp_path / "plain.sklstm"
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        params = json.loads(archive.read("sklstm.json"))["params"]
    # Left out at their defaults: what a file from before them holds.
    assert not {"weight_dropout", "embedding_dropout", "tie_weights"} & set(params)
    loaded = sklstm.load(path)
    assert loaded.get_params()["weight_dropout"] == "auto"
    assert loaded.get_params()["tie_weights"] is False
    assert loaded.weight_dropout_ == model.weight_dropout_ == 0.0
    # No weight dropout, no longer the default, is kept.
    model.set_params(weight_dropout=0.0)
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        params = json.loads(archive.read("sklstm.json"))["params"]
    assert params["weight_dropout"] == 0.0
    assert sklstm.load(path).get_params()["weight_dropout"] == 0.0
    np.testing.assert_array_equal(
        loaded.predict_proba(["the "]), model.predict_proba(["the "])
    )


def test_stateful_training_with_the_regularisers():
    params = dict(TINY, stateful=True, batch_size=2, **REGULARISED)
    model = LSTMTextGenerator(**params).fit(SENTENCES)
    again = LSTMTextGenerator(**params).fit(SENTENCES)
    plain = LSTMTextGenerator(**dict(TINY, stateful=True, batch_size=2)).fit(SENTENCES)
    assert model.stateful_ and model.history_ == again.history_
    assert model.history_["loss"] != plain.history_["loss"]


def test_warm_start_may_change_the_rates_but_not_the_tying(tied_char, tmp_path):
    tied_char.save(tmp_path / "tied.sklstm")
    model = sklstm.load(tmp_path / "tied.sklstm")  # the fixture stays as it is
    model.set_params(warm_start=True, epochs=1, weight_dropout=0.1)
    model.fit(SENTENCES)
    assert model.n_epochs_ == tied_char.n_epochs_ + 1
    model.partial_fit(SENTENCES)
    assert model.n_epochs_ == tied_char.n_epochs_ + 2
    model.set_params(tie_weights=False)
    with pytest.raises(ValueError, match="built with tie_weights=True; the parameters"):
        model.fit(SENTENCES)
