"""Time budget, learning-rate schedule, carried states and precision."""

import time
import warnings

import keras
import numpy as np
import pytest
from helpers import quick_generator

import sklstm

DOCS = [
    "the cat sat on the mat and the dog sat on the log. " * 4,
    "a bird sang in the tree while the cat slept. " * 4,
    "the dog ran after the cat across the garden. " * 4,
]


def tiny(**params):
    return quick_generator(**{"batch_size": 4, **params})


class RecordRates(keras.callbacks.Callback):
    """Learning rate seen by every batch of the last fit (fit copies
    callbacks, so the record is kept on the class)."""

    rates = []

    def on_train_begin(self, logs=None):
        RecordRates.rates = []

    def on_train_batch_begin(self, batch, logs=None):
        RecordRates.rates.append(float(self.model.optimizer.learning_rate))


class Slow(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        time.sleep(0.05)


# ------------------------------------------------------------- max_time
def test_max_time_stops_training_and_keeps_a_usable_model():
    model = tiny(epochs=None, max_time=0.5, callbacks=[Slow]).fit(DOCS)
    # Stopped by the clock, not by an epoch count: the last epoch was cut
    # short and still recorded and validated like any other.
    assert model.n_epochs_ >= 1
    assert len(model.history_["loss"]) == model.n_epochs_
    assert 0.5 <= model.training_time_ < 30
    assert isinstance(model.generate("the ", max_new_tokens=5, random_state=0), str)


def test_max_time_cuts_an_epoch_short_and_keeps_the_best_weights():
    docs = DOCS * 10
    model = tiny(
        epochs=50, max_time=0.3, validation_fraction=0.3, early_stopping=True,
        callbacks=[Slow],
    ).fit(docs)  # fmt: skip
    assert model.n_epochs_ < 50
    assert model.best_epoch_ == int(np.argmin(model.history_["val_loss"]))


def test_epochs_limit_training_when_it_comes_before_max_time():
    model = tiny(epochs=2, max_time=3600).fit(DOCS)
    assert model.n_epochs_ == 2


# ------------------------------------------------------------ schedule
def test_cosine_schedule_decays_to_zero_and_the_optimizer_keeps_the_peak():
    model = tiny(epochs=3, learning_rate=0.01, callbacks=[RecordRates])
    model.fit(DOCS)
    rates = RecordRates.rates
    assert rates[0] == pytest.approx(0.01)
    assert all(a >= b for a, b in zip(rates, rates[1:], strict=False))
    assert rates[-1] < 0.01 * 0.2
    assert float(model.model_.optimizer.learning_rate) == pytest.approx(0.01)


def test_constant_schedule_and_partial_fit_keep_the_rate():
    for model, method in (
        (tiny(learning_rate_schedule="constant", callbacks=[RecordRates]), "fit"),
        (tiny(callbacks=[RecordRates]), "partial_fit"),
    ):
        getattr(model, method)(DOCS)
        rates = RecordRates.rates
        assert rates
        assert rates == pytest.approx([model.learning_rate] * len(rates))


# ------------------------------------------------------ carried states
def test_stateful_training_carries_states_between_batches():
    tiny(stateful=True, epochs=1, callbacks=[StatesSeen]).fit(DOCS * 4)
    seen = StatesSeen.norms
    assert seen[0] == 0  # every epoch starts from zero states
    assert max(seen[1:]) > 0  # later batches start where the last ended


def test_auto_carries_states_for_long_documents_only():
    long_docs = ["the cat sat on the mat. " * 40] * 3  # 24 windows each
    short_docs = ["the cat sat.", "a dog ran.", "birds sang."] * 20
    assert tiny(epochs=1, stateful="auto").fit(long_docs).stateful_ is True
    assert tiny(epochs=1, stateful="auto").fit(short_docs).stateful_ is False
    assert tiny(epochs=1, stateful=False).fit(long_docs).stateful_ is False


def test_stateless_training_has_no_carried_states():
    tiny(stateful=False, epochs=1, callbacks=[StatesSeen]).fit(DOCS * 4)
    assert StatesSeen.norms == []


class StatesSeen(keras.callbacks.Callback):
    """Size of the first carried state before each batch of the last fit."""

    norms = []

    def on_train_begin(self, logs=None):
        StatesSeen.norms = []

    def on_train_batch_begin(self, batch, logs=None):
        StatesSeen.norms += [
            float(np.abs(np.asarray(s)).sum()) for s in self.model.states[:1]
        ]


@pytest.mark.parametrize("stateful", [True, False])
def test_both_training_modes_learn(stateful):
    pattern = "abcdefgh " * 30
    model = tiny(
        stateful=stateful, units=32, embedding_dim=8, epochs=6,
        learning_rate=0.02, sequence_length=16,
    ).fit([pattern] * 6)  # fmt: skip
    loss = model.history_["loss"]
    assert loss[-1] < loss[0] / 2
    assert model.generate("abcd", max_new_tokens=4, temperature=0) == "efgh"


# ---------------------------------------------------------- precision
@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_trains_scores_generates_and_saves(policy, tmp_path):
    model = tiny(dtype_policy=policy, validation_fraction=0.3).fit(DOCS)
    assert model.model_.get_layer("lstm_0").compute_dtype == policy.split("_")[1]
    assert model.model_.get_layer("logits").compute_dtype == "float32"
    assert all(w.dtype == np.float32 for w in model.model_.get_weights())
    assert np.isfinite(model.history_["loss"]).all()
    text = model.generate("the ", max_new_tokens=8, random_state=0)
    path = tmp_path / "mixed.sklstm"
    model.save(path)
    loaded = sklstm.load(path)
    assert loaded.generate("the ", max_new_tokens=8, random_state=0) == text
    assert loaded.score(DOCS) == pytest.approx(model.score(DOCS), rel=1e-6)


def test_recurrent_dropout_warns_once_that_it_rules_out_cudnn():
    from sklstm import _fitting

    _fitting._WARNED.clear()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(2):
            tiny(recurrent_dropout=0.2, epochs=1).fit(DOCS)
    cudnn = [w for w in caught if "cuDNN" in str(w.message)]
    assert len(cudnn) == 1


def test_defaults_stay_cudnn_eligible():
    model = tiny(epochs=1).fit(DOCS)
    for layer in model.model_.layers:
        if isinstance(layer, keras.layers.LSTM):
            assert layer.activation is keras.activations.tanh
            assert layer.recurrent_activation is keras.activations.sigmoid
            assert layer.cell.recurrent_dropout == 0
            assert layer.cell.use_bias and not layer.unroll
