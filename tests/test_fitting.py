"""Fitting: continuing training, fine-tuning, validation splits, callbacks,
interruptions and progress."""

import re

import keras
import numpy as np
import pytest
from corpora import ANIMALS as DOCS
from corpora import QUICK
from corpora import SMALL_SHORT as TINY
from helpers import quick_generator as tiny
from sklearn.base import clone

from sklstm import LSTMTextGenerator, TextSequencer, load_python_docs
from sklstm._fitting import split_documents


def weights(model):
    return [w.copy() for w in model.model_.get_weights()]


def test_partial_fit_builds_then_continues_one_epoch_at_a_time():
    model = tiny().partial_fit(DOCS)
    assert model.n_epochs_ == 1 and len(model.history_["loss"]) == 1
    vocabulary = dict(model.sequencer_.vocabulary_)
    before = weights(model)
    model.partial_fit(DOCS)
    assert model.n_epochs_ == 2 and len(model.history_["loss"]) == 2
    assert model.sequencer_.vocabulary_ == vocabulary
    assert any(
        not np.array_equal(a, b) for a, b in zip(before, weights(model), strict=True)
    )


def test_continued_epochs_see_new_window_orders():
    one_go = tiny(epochs=3, learning_rate_schedule="constant").fit(DOCS)
    stepwise = tiny(epochs=1)
    for _ in range(3):
        stepwise.partial_fit(DOCS)
    # Three one-epoch calls equal one three-epoch fit at a constant learning
    # rate (partial_fit's): the data order follows the epoch number, not the
    # call.
    np.testing.assert_allclose(
        stepwise.history_["loss"], one_go.history_["loss"], rtol=1e-5
    )


def test_warm_start_continues_from_current_weights():
    model = tiny(warm_start=True).fit(DOCS)
    first = list(model.history_["loss"])
    model.fit(DOCS)
    assert model.n_epochs_ == 4
    assert model.history_["loss"][:2] == first
    assert model.history_["loss"][2] < first[0]
    cold = clone(model).set_params(warm_start=False).fit(DOCS)
    assert cold.n_epochs_ == 2


def test_warm_start_applies_a_new_learning_rate():
    model = tiny(warm_start=True).fit(DOCS)
    model.set_params(learning_rate=0.0005).fit(DOCS)
    assert float(model.model_.optimizer.learning_rate) == pytest.approx(0.0005)


def test_warm_start_refuses_a_different_network():
    model = tiny(warm_start=True).fit(DOCS)
    model.set_params(units=16)
    with pytest.raises(
        ValueError,
        match=r"warm_start and partial_fit continue training the fitted network, "
        r"which was built with units=\(12,\); the parameters now ask for "
        r"units=\(16,\)\. Set warm_start=False",
    ):
        model.fit(DOCS)
    assert model.model_.get_layer("lstm_0").units == 12  # still usable
    model.generate("the ", max_new_tokens=5)


@pytest.mark.parametrize(
    "change, built",
    [
        (dict(dropout=0.2), "dropout=0.0"),
        (dict(recurrent_dropout=0.1), "recurrent_dropout=0.0"),
        (dict(l2=1e-4), "l2=0.0"),
        (dict(dtype_policy="mixed_bfloat16"), "dtype_policy='float32'"),
    ],
)
def test_warm_start_refuses_settings_the_network_was_built_with(change, built):
    model = tiny(warm_start=True).fit(DOCS)
    model.set_params(**change)
    with pytest.raises(ValueError, match=f"built with {re.escape(built)}"):
        model.partial_fit(DOCS)
    model.set_params(**{k: v for k, v in tiny().get_params().items() if k in change})
    model.partial_fit(DOCS)  # back to the built settings: continues


def test_vocabulary_never_changes_unseen_tokens_are_oov_or_refused():
    model = tiny().fit(DOCS)
    vocabulary = dict(model.sequencer_.vocabulary_)
    model.partial_fit(["ZZZ QQQ the cat"])  # Z and Q were never seen
    assert model.sequencer_.vocabulary_ == vocabulary
    strict = tiny(sequencer=TextSequencer(handle_unknown="error")).fit(DOCS)
    before = weights(strict)
    with pytest.raises(ValueError, match="handle_unknown='error' refuses them"):
        strict.partial_fit(["ZZZ"])
    assert all(
        np.array_equal(a, b) for a, b in zip(before, weights(strict), strict=True)
    )
    assert strict.n_epochs_ == 2


def test_fine_tuning_a_pretrained_model_beats_training_from_scratch():
    # A larger general corpus, then a small one in a narrower style.
    general = [doc[:2000] for doc in load_python_docs()[:40]]
    words = ["if", "for", "while", "try", "with", "def", "class", "return",
             "import", "raise", "yield", "assert", "del", "pass"]  # fmt: skip
    sentences = [
        f"The {word} statement is described in section {n}."
        for n, word in enumerate(words)
    ]
    small, held_out = sentences[:10], sentences[10:]
    # QUICK's settings with a larger network; each fit sets its epochs.
    params = {key: value for key, value in QUICK.items() if key != "epochs"}
    params.update(embedding_dim=16, units=64, sequence_length=32, batch_size=32)
    model = LSTMTextGenerator(epochs=5, learning_rate=0.01, **params).fit(general)
    vocabulary = dict(model.sequencer_.vocabulary_)
    pretrained = model.score(held_out)
    model.set_params(warm_start=True, epochs=10, learning_rate=0.003).fit(small)
    scratch = LSTMTextGenerator(epochs=15, learning_rate=0.01, **params).fit(small)
    assert model.sequencer_.vocabulary_ == vocabulary
    assert model.score(held_out) > pretrained + 0.2
    assert model.score(held_out) > scratch.score(held_out) + 0.5


@pytest.mark.parametrize("on_disk", [False, True], ids=["lists", "IdCorpus"])
def test_too_few_documents_hold_out_the_end_of_each(on_disk, tmp_path):
    # round(0.1 * 3) is 0 whole documents: the last tenth of each instead.
    docs = ["a" * 40, "b" * 30, "c" * 4]
    gen = LSTMTextGenerator(**dict(TINY, validation_fraction=0.1))
    if on_disk:
        paths = []
        for i, doc in enumerate(docs):
            (tmp_path / f"{i}.txt").write_text(doc, encoding="utf-8")
            paths.append(str(tmp_path / f"{i}.txt"))
        seq = TextSequencer(input="filename").fit(paths)
        ids = seq.transform(paths)
    else:
        seq = TextSequencer().fit(docs)
        ids = seq.transform(docs)
    rng = np.random.RandomState(0)
    train, val = split_documents(ids, gen.validation_fraction, rng)
    assert seq.inverse_transform(list(train)) == ["a" * 36, "b" * 27, "c" * 4]
    # "c" gives none: 0.4 rounds to 0.
    assert seq.inverse_transform(list(val)) == ["a" * 4, "b" * 3]


def test_whole_documents_are_held_out_when_there_are_enough():
    docs = [f"{c}" * 30 for c in "abcdefghij"]  # round(0.2 * 10) = 2 documents
    seq = TextSequencer().fit(docs)
    gen = LSTMTextGenerator(**dict(TINY, validation_fraction=0.2))
    rng = np.random.RandomState(0)
    train, val = split_documents(seq.transform(docs), gen.validation_fraction, rng)
    held_out = seq.inverse_transform(val)
    assert len(held_out) == 2 and set(held_out) < set(docs)
    assert sorted(seq.inverse_transform(train) + held_out) == docs


class Recorder(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epochs = []

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append(epoch)


def test_callback_instances_are_copied_and_never_hold_a_model():
    recorder = Recorder()
    model = tiny(callbacks=[recorder, Recorder]).fit(DOCS)
    assert recorder.epochs == []  # fit used a copy
    assert getattr(recorder, "_model", None) is None
    twin = clone(model)
    assert twin.callbacks[0] is not recorder
    assert getattr(twin.callbacks[0], "_model", None) is None


@pytest.mark.parametrize("stateful", [False, True])
def test_keras_model_checkpoint_saves_the_network(tmp_path, stateful):
    whole = keras.callbacks.ModelCheckpoint(str(tmp_path / "best.keras"))
    weights = keras.callbacks.ModelCheckpoint(
        str(tmp_path / "best.weights.h5"), save_weights_only=True
    )
    model = tiny(stateful=stateful, callbacks=[whole, weights]).fit(DOCS)
    saved = keras.saving.load_model(tmp_path / "best.keras")
    ids = model.sequencer_.transform(["the cat sat"])[0][None, :]
    np.testing.assert_allclose(saved(ids), model.model_(ids), rtol=1e-5, atol=1e-6)
    twin = tiny(epochs=1).fit(DOCS)
    twin.model_.load_weights(tmp_path / "best.weights.h5")
    np.testing.assert_allclose(
        twin.model_(ids), model.model_(ids), rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize("callbacks", [Recorder(), ["x"], [int]])
def test_invalid_callbacks_are_refused(callbacks):
    with pytest.raises(TypeError, match="The 'callbacks' parameter of"):
        tiny(callbacks=callbacks).fit(DOCS)


class Interrupter(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 2:
            raise KeyboardInterrupt


def test_ctrl_c_keeps_a_usable_model_with_the_best_weights_so_far():
    model = tiny(epochs=5, early_stopping=False, callbacks=[Interrupter])
    with pytest.warns(UserWarning, match=r"Training was interrupted after 2 epoch"):
        model.fit(DOCS)
    assert model.n_epochs_ == 2 and len(model.history_["loss"]) == 2
    assert model.best_epoch_ == int(np.argmin(model.history_["loss"]))
    assert np.isfinite(model.score(DOCS))
    assert isinstance(model.generate("the ", max_new_tokens=5), str)


class Saboteur(keras.callbacks.Callback):
    """Poisons the weights during the second epoch."""

    def on_train_batch_end(self, batch, logs=None):
        if self._epoch == 1:
            kernel = self.model.get_layer("logits").kernel
            kernel.assign(kernel * np.nan)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch


@pytest.mark.parametrize("early_stopping", [True, False])
def test_nan_loss_stops_training_and_restores_good_weights(early_stopping):
    model = tiny(epochs=4, early_stopping=early_stopping, callbacks=[Saboteur])
    with pytest.warns(RuntimeWarning, match="became NaN or infinite in epoch 2"):
        model.fit(DOCS)
    assert model.n_epochs_ == 1
    assert all(np.isfinite(w).all() for w in model.model_.get_weights())
    assert np.isfinite(model.score(DOCS))


def test_progress_of_a_time_budget_counts_time_not_epochs(capsys):
    # Only max_time limits training: Keras would print "Epoch 1/1000000000".
    tiny(epochs=None, max_time=2, verbose=2).fit(DOCS)
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines and all(
        re.fullmatch(
            r"epoch \d+, \d+:\d\d of 0:02 - \d+/\d+( - \w+: \d+\.\d{4})+", line
        )
        for line in lines
    ), out
    assert lines[0].startswith("epoch 1, ")
    assert "Epoch" not in out and "1000000000" not in out


def test_progress_of_a_time_budget_updates_one_line_on_a_terminal(capsys):
    tiny(epochs=None, max_time=1, verbose=1).fit(DOCS)
    out = capsys.readouterr().out
    assert "\r" in out and "Epoch" not in out
    for line in out.split("\n")[:-1]:  # each epoch's line ends with its last state
        assert re.fullmatch(
            r"epoch \d+, \d+:\d\d of 0:01 - \d+/\d+( - \w+: \d+\.\d{4})+",
            line.split("\r")[-1].rstrip(),
        ), line


def test_progress_with_an_epoch_limit_is_keras_own(capsys):
    tiny(epochs=2, max_time=60, verbose=2).fit(DOCS)
    assert "Epoch 2/2" in capsys.readouterr().out
