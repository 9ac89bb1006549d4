"""Tests for LSTMTextGenerator: fitting, validation, scoring, prediction, generation.

Every model here is tiny and trained for a few epochs on a tiny corpus, so the
module runs in well under a minute and a half on two CPU cores. Models that
tests only read are fitted once per module.
"""

import json
import math
import re
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from corpora import PATTERN
from corpora import PATTERNS as CORPUS
from corpora import SMALL_SHORT as TINY
from sklearn.exceptions import NotFittedError

from sklstm import LSTMTextGenerator, TextSequencer

PAD, OOV, EOD = 0, 1, 2

# CORPUS, PATTERN repeated (see corpora.py): a small model learns it in 3 epochs.
TEXT_PARAMS = dict(
    embedding_dim=8,
    units=(32, 32),
    dense_units=16,
    sequence_length=20,
    batch_size=8,
    epochs=3,
    learning_rate=0.02,
    validation_fraction=0,
    random_state=0,
)

# The same idea on token ids: rows padded on the left with 0, as
# TextSequencer(maxlen=7) returns them.
ID_ROWS = np.array([[0, 0, 3, 4, 5, 6, 7]] * 80)
ID_PARAMS = dict(
    embedding_dim=8,
    units=16,
    sequence_length=10,
    batch_size=8,
    epochs=3,
    learning_rate=0.03,
    validation_fraction=0,
    random_state=0,
)


@pytest.fixture(scope="module")
def text_model():
    """Two LSTM layers and a Dense layer, trained on raw text; read only."""
    return LSTMTextGenerator(sequencer=TextSequencer(), **TEXT_PARAMS).fit(CORPUS)


@pytest.fixture(scope="module")
def untrained_model():
    """Two LSTM layers and a Dense layer, barely trained; read only.

    Its logits lie close together, so greedy decoding depends on every detail
    of the computation.
    """
    params = dict(TEXT_PARAMS, units=(16, 16), epochs=1, learning_rate=1e-5)
    return LSTMTextGenerator(**params).fit(CORPUS)


@pytest.fixture(scope="module")
def ids_model():
    """One LSTM layer trained on a padded 2-D id array; read only."""
    return LSTMTextGenerator(**ID_PARAMS).fit(ID_ROWS)


@pytest.fixture
def restore_numpy_rng():
    """Put the global numpy generator back after a test that reseeds it."""
    state = np.random.get_state()
    yield
    np.random.set_state(state)


def _same_rng_state(a, b):
    return a[0] == b[0] and np.array_equal(a[1], b[1]) and a[2:] == b[2:]


def _ids(model, text):
    return [model.sequencer_.vocabulary_[ch] for ch in text]


# --------------------------------------------------------------------------
# Independent numpy implementation of the network, for reference results.


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


class NumpyLM:
    """The fitted network recomputed in float64 numpy, one token at a time.

    Embedding -> LSTM layers (Keras gate order i, f, c, o) -> relu Dense
    layers -> logits, from the weights of ``model_`` only.
    """

    def __init__(self, model):
        layers = model.model_.layers
        (embedding,) = [x for x in layers if isinstance(x, keras.layers.Embedding)]
        self.embeddings = embedding.get_weights()[0].astype(np.float64)
        self.lstms = [
            [w.astype(np.float64) for w in x.get_weights()]  # kernel, recurrent, bias
            for x in layers
            if isinstance(x, keras.layers.LSTM)
        ]
        dense = [
            [w.astype(np.float64) for w in x.get_weights()]
            for x in layers
            if isinstance(x, keras.layers.Dense)
        ]
        self.hidden, self.head = dense[:-1], dense[-1]

    def run(self, tokens):
        """Logits after reading ``tokens`` from zero states, and the states."""
        states = [
            (np.zeros(len(b) // 4), np.zeros(len(b) // 4)) for _, _, b in self.lstms
        ]
        for token in tokens:
            logits, states = self.step(token, states)
        return logits, states

    def step(self, token, states):
        x = self.embeddings[token]
        new_states = []
        for (kernel, recurrent, bias), (h, c) in zip(self.lstms, states, strict=True):
            i, f, g, o = np.split(x @ kernel + h @ recurrent + bias, 4)
            c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
            h = _sigmoid(o) * np.tanh(c)
            new_states.append((h, c))
            x = h
        for kernel, bias in self.hidden:
            x = np.maximum(x @ kernel + bias, 0.0)
        kernel, bias = self.head
        return x @ kernel + bias, new_states

    def greedy(self, prompt, max_new_tokens, stop_at_eod):
        """Most likely token at every step; padding and unknown are never picked."""
        logits, states = self.run([EOD, *prompt])  # a prompt starts a document
        out = []
        for _ in range(max_new_tokens):
            logits = logits.copy()
            logits[[PAD, OOV]] = -np.inf
            token = int(np.argmax(logits))
            if stop_at_eod and token == EOD:
                break
            out.append(token)
            logits, states = self.step(token, states)
        return out


def _direct_log_likelihood(model, ids):
    """Log-likelihood of one document straight from ``model_``, in one pass."""
    inputs = np.array([[EOD, *ids]], dtype=np.int32)  # (1, time)
    targets = np.array([*ids, EOD])
    logits = np.asarray(model.model_(inputs))[0].astype(np.float64)  # (time, vocab)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_proba = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return log_proba[np.arange(len(targets)), targets].sum()


# --------------------------------------------------------------------------
# fit


def test_fit_on_text_sets_fitted_attributes(text_model):
    assert isinstance(text_model.model_, keras.Model)
    seq = text_model.sequencer_
    assert isinstance(seq, TextSequencer)
    assert seq is not text_model.sequencer
    assert seq.get_params() == text_model.sequencer.get_params()
    assert not hasattr(text_model.sequencer, "vocabulary_")  # parameter untouched
    assert set(seq.vocabulary_) == {"<pad>", "<unk>", "<eod>", *PATTERN}
    assert text_model.vocab_size_ == seq.vocab_size_ == 3 + len(PATTERN)
    assert set(text_model.history_) == {"loss", "accuracy"}
    assert text_model.n_epochs_ == 3
    assert all(len(v) == 3 for v in text_model.history_.values())
    assert text_model.best_epoch_ == int(np.argmin(text_model.history_["loss"]))
    logits = text_model.model_(np.array([[EOD, 3, 4]], dtype=np.int32))
    assert tuple(logits.shape) == (1, 3, text_model.vocab_size_)


def test_training_learns_a_repetitive_pattern(text_model):
    loss = text_model.history_["loss"]
    assert np.all(np.diff(loss) < 0)
    assert text_model.history_["accuracy"][-1] > 0.8
    assert text_model.generate("", temperature=0) == PATTERN
    assert text_model.generate("abc", temperature=0) == "defgh"
    continued = text_model.generate(
        "abc", temperature=0, max_new_tokens=20, stop_at_eod=False
    )
    # 20 new tokens, two of them end-of-document markers that decode to nothing.
    assert continued == "defgh" + "abcdefgh" + "abcde"


def test_fit_is_reproducible_and_ignores_global_seeds(restore_numpy_rng):
    params = dict(TINY, epochs=2, learning_rate=0.02)
    docs = CORPUS[:40]

    np.random.seed(1)
    tf.random.set_seed(1)
    first = LSTMTextGenerator(**params)
    state = np.random.get_state()
    assert first.fit(docs) is first
    assert _same_rng_state(np.random.get_state(), state)

    np.random.seed(2)
    tf.random.set_seed(2)
    second = LSTMTextGenerator(**params).fit(docs)
    assert second.history_ == first.history_
    for a, b in zip(
        first.model_.get_weights(), second.model_.get_weights(), strict=True
    ):
        np.testing.assert_array_equal(a, b)
    assert first.generate("ab", max_new_tokens=20, random_state=0) == (
        second.generate("ab", max_new_tokens=20, random_state=0)
    )

    other = LSTMTextGenerator(**dict(params, random_state=1)).fit(docs)
    assert other.history_["loss"] != first.history_["loss"]


def test_fit_on_padded_id_array(ids_model):
    assert ids_model.sequencer_ is None
    assert ids_model.vocab_size_ == 8  # highest id + 1
    assert set(ids_model.history_) == {"loss", "accuracy"}
    assert ids_model.n_epochs_ == 3
    proba = ids_model.predict_proba(np.array([[0, 3, 4]]))
    assert proba.shape == (1, 8)
    pred = ids_model.predict(np.array([[0, 0, 3], [3, 4, 5]]))
    assert np.issubdtype(pred.dtype, np.integer)
    np.testing.assert_array_equal(pred, [4, 6])


def test_fit_on_list_of_id_arrays_equals_padded_array(ids_model):
    rows = [row[row != PAD] for row in ID_ROWS]
    gen = LSTMTextGenerator(**ID_PARAMS).fit(rows)
    assert gen.sequencer_ is None
    assert gen.vocab_size_ == 8
    assert gen.history_ == ids_model.history_  # padding is not training data


def test_id_model_refuses_text(ids_model):
    with pytest.raises(
        TypeError,
        match="generate got text, but this LSTMTextGenerator was fitted on "
        "token ids and has no sequencer",
    ):
        ids_model.generate("abc")
    with pytest.raises(TypeError, match="predict got text, but this"):
        ids_model.predict(["abc"])


def test_id_model_generates_ids(ids_model):
    out = ids_model.generate(np.array([3]), temperature=0)
    assert isinstance(out, np.ndarray)
    assert np.issubdtype(out.dtype, np.integer)
    np.testing.assert_array_equal(out, [4, 5, 6, 7])
    np.testing.assert_array_equal(ids_model.generate([3, 4, 5], temperature=0), [6, 7])
    several = ids_model.generate([np.array([3]), np.array([3, 4, 5])], temperature=0)
    assert isinstance(several, list)
    np.testing.assert_array_equal(several[0], [4, 5, 6, 7])
    np.testing.assert_array_equal(several[1], [6, 7])


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_stop_at_eod_cuts_before_end_of_document(ids_model, temperature):
    kwargs = dict(max_new_tokens=15, temperature=temperature, random_state=0)
    full = ids_model.generate(np.array([3]), stop_at_eod=False, **kwargs)
    stopped = ids_model.generate(np.array([3]), stop_at_eod=True, **kwargs)
    assert len(full) == 15
    assert EOD in full.tolist()
    np.testing.assert_array_equal(stopped, full[: full.tolist().index(EOD)])


# --------------------------------------------------------------------------
# validation and early stopping


def test_validation_holds_out_whole_documents():
    # Short held-out documents fit in one validation window, so val_loss is
    # exactly minus the mean log-likelihood of the held-out document(s).
    docs = ["ab" * 100, "aab", "abba", "bbbaa"]
    gen = LSTMTextGenerator(
        **dict(TINY, epochs=2, learning_rate=0.02, validation_fraction=0.25),
        early_stopping=False,
    ).fit(docs)
    assert set(gen.history_) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert gen.n_epochs_ == 2
    assert gen.best_epoch_ == 1
    val_loss = gen.history_["val_loss"][-1]
    held_out = [
        d for d in docs if math.isclose(-gen.score([d]), val_loss, rel_tol=1e-4)
    ]
    assert len(held_out) == 1  # round(0.25 * 4) documents, whole
    assert held_out[0] in docs[1:]


def test_one_document_holds_out_its_end():
    # One text: its last 15% is the validation document. It fits in one
    # validation window, so val_loss is minus its mean log-likelihood.
    doc = PATTERN * 5 + "hgfedcba"
    gen = LSTMTextGenerator(
        **dict(TINY, epochs=2, validation_fraction=0.15), early_stopping=False
    ).fit([doc])
    assert set(gen.history_) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    tail = doc[-7:]  # round(0.15 * 48) characters
    assert -gen.score([tail]) == pytest.approx(gen.history_["val_loss"][-1], rel=1e-4)


def test_text_too_short_to_hold_out_a_token_warns_and_trains_without():
    gen = LSTMTextGenerator(**dict(TINY, validation_fraction=0.01))
    with pytest.warns(
        UserWarning,
        match=re.escape(
            "validation_fraction=0.01 of 1 document(s) of 40 tokens leaves not "
            "one token to hold out; training without validation."
        ),
    ):
        gen.fit([PATTERN * 5])
    assert set(gen.history_) == {"loss", "accuracy"}
    assert gen.n_epochs_ == 1


def test_early_stopping_restores_weights_of_best_epoch():
    # Training on "abab..." first helps, then hurts, the held-out "aaaaaaa";
    # the held-out document fits in one validation window, so its score is
    # exactly -val_loss of the epoch whose weights the model holds.
    docs = ["ab" * 100, "aaaaaaa"]
    gen = LSTMTextGenerator(
        **dict(TINY, epochs=10, learning_rate=0.005, validation_fraction=0.5),
        n_iter_no_change=2,
        learning_rate_schedule="constant",
        stateful=False,
    ).fit(docs)
    val_loss = np.array(gen.history_["val_loss"])
    best = gen.best_epoch_
    assert best == int(np.argmin(val_loss))
    assert gen.n_epochs_ == best + 1 + 2 < 10  # stopped after 2 worse epochs
    assert np.all(np.abs(np.delete(val_loss, best) - val_loss[best]) > 1e-3)
    assert gen.score(["aaaaaaa"]) == pytest.approx(-val_loss[best], rel=1e-4)


# --------------------------------------------------------------------------
# predict, predict_proba


@pytest.mark.parametrize("fixture", ["text_model", "untrained_model"])
def test_predict_proba_matches_numpy_reference(request, fixture):
    model = request.getfixturevalue(fixture)
    contexts = ["", "abc", "hh", "ba", "hgfedcba"]
    proba = model.predict_proba(contexts)
    assert proba.shape == (len(contexts), model.vocab_size_)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    net = NumpyLM(model)
    for row, context in zip(proba, contexts, strict=True):
        logits, _ = net.run([EOD, *_ids(model, context)])
        expected = np.exp(logits - logits.max())
        np.testing.assert_allclose(row, expected / expected.sum(), atol=1e-5)


def test_predict_returns_tokens_for_text_model(text_model):
    contexts = ["", "abc", "hh", "ba", PATTERN]
    pred = text_model.predict(contexts)
    assert pred.shape == (len(contexts),)
    tokens = {i: t for t, i in text_model.sequencer_.vocabulary_.items()}
    best = text_model.predict_proba(contexts)[:, 1:].argmax(axis=1) + 1
    assert pred.tolist() == [tokens[i] for i in best]
    assert pred[1] == "d"
    assert pred[4] == "<eod>"


def test_predict_and_generate_never_return_padding(ids_model):
    # Make padding, then unknown, the most likely next tokens everywhere; the
    # original weights are put back at the end.
    head = ids_model.model_.layers[-1]
    kernel, bias = head.get_weights()
    boosted = bias.copy()
    boosted[PAD] += 100.0
    boosted[OOV] += 99.0
    head.set_weights([kernel, boosted])
    try:
        contexts = [np.array([3]), np.array([3, 4, 5]), np.array([], dtype=int)]
        proba = ids_model.predict_proba(contexts)
        assert (proba.argmax(axis=1) == PAD).all()
        pred = ids_model.predict(contexts)
        assert np.issubdtype(pred.dtype, np.integer)
        np.testing.assert_array_equal(pred, proba[:, 1:].argmax(axis=1) + 1)
        for temperature in (0.0, 1.0):
            out = ids_model.generate(
                np.array([3]),
                max_new_tokens=10,
                temperature=temperature,
                stop_at_eod=False,
                random_state=0,
            )
            assert len(out) == 10
            assert not np.isin(out, [PAD, OOV]).any()
    finally:
        head.set_weights([kernel, bias])


@pytest.mark.parametrize(
    "method", ["predict", "predict_proba", "score", "score_samples"]
)
def test_out_of_range_ids_are_rejected(text_model, ids_model, method):
    with pytest.raises(ValueError, match=re.escape("token ids in [0, 11)")):
        getattr(text_model, method)([[3, 11]])
    with pytest.raises(ValueError, match=re.escape("token ids in [0, 8); sequence 1")):
        getattr(ids_model, method)(np.array([[0, 3, 4], [3, 8, 4]]))
    with pytest.raises(ValueError, match=re.escape("sequence 0 holds [-1]")):
        getattr(ids_model, method)([[-1, 3]])


def test_out_of_range_id_prompt_is_rejected(ids_model):
    with pytest.raises(ValueError, match=re.escape("token ids in [0, 8)")):
        ids_model.generate(np.array([3, 9]))


# --------------------------------------------------------------------------
# score, score_samples


def test_score_samples_is_document_log_likelihood(text_model):
    docs = ["abc", "", "hgfedcba", PATTERN * 2, "bad"]
    loglik = text_model.score_samples(docs)
    assert loglik.shape == (len(docs),)
    expected = [_direct_log_likelihood(text_model, _ids(text_model, d)) for d in docs]
    np.testing.assert_allclose(loglik, expected, rtol=1e-4)
    n_predicted = sum(len(d) + 1 for d in docs)  # every token and the final <eod>
    assert text_model.score(docs) == pytest.approx(loglik.sum() / n_predicted)


def test_score_samples_of_a_long_document(text_model):
    # Longer than two of the 128-token chunks scoring runs through the network.
    rng = np.random.RandomState(0)
    doc = "".join(rng.choice(list(PATTERN), size=300))
    (loglik,) = text_model.score_samples([doc, "abc"])[:1]
    expected = _direct_log_likelihood(text_model, _ids(text_model, doc))
    assert loglik == pytest.approx(expected, rel=1e-4)


def test_score_samples_ignores_padding_in_id_arrays(ids_model):
    padded = ids_model.score_samples(np.array([[0, 0, 3, 4, 5], [3, 4, 5, 6, 7]]))
    whole = ids_model.score_samples([np.array([3, 4, 5]), np.array([3, 4, 5, 6, 7])])
    np.testing.assert_allclose(padded, whole, rtol=1e-6)


# --------------------------------------------------------------------------
# generate


@pytest.mark.parametrize("fixture", ["text_model", "untrained_model"])
@pytest.mark.parametrize("stop_at_eod", [True, False])
def test_greedy_generation_matches_numpy_reference(request, fixture, stop_at_eod):
    model = request.getfixturevalue(fixture)
    net = NumpyLM(model)
    assert len(net.lstms) == 2 and len(net.hidden) == 1  # the setup under test
    # The last two are read in two and three blocks of 64 columns.
    long_prompts = ["abcdefgh" * 9 + "ab", "hgfedcba" * 20]
    for prompt in ["", "abc", "hh", "ba", "hgfedcba", "eeee", *long_prompts]:
        ids = net.greedy(_ids(model, prompt), 25, stop_at_eod)
        expected = model.sequencer_.inverse_transform([ids])[0]
        got = model.generate(
            prompt, max_new_tokens=25, temperature=0, stop_at_eod=stop_at_eod
        )
        assert got == expected, prompt


@pytest.mark.parametrize("stop_at_eod", [True, False])
def test_list_of_prompts_equals_prompts_one_by_one(text_model, stop_at_eod):
    prompts = ["hgfedcba", "", "ba", "abcdefghabc", "hh", "abcdefgh" * 17]
    kwargs = dict(max_new_tokens=20, temperature=0, stop_at_eod=stop_at_eod)
    batch = text_model.generate(prompts, **kwargs)
    assert isinstance(batch, list)
    assert batch == [text_model.generate(p, **kwargs) for p in prompts]


def test_zero_new_tokens(text_model, ids_model):
    assert text_model.generate("abc", max_new_tokens=0) == ""
    assert text_model.generate(["abc", ""], max_new_tokens=0) == ["", ""]
    assert len(ids_model.generate(np.array([3]), max_new_tokens=0)) == 0


def test_seeded_generation(text_model, restore_numpy_rng):
    kwargs = dict(max_new_tokens=30, temperature=3.0, stop_at_eod=False)
    state = np.random.get_state()
    outputs = [
        text_model.generate("abc", random_state=seed, **kwargs) for seed in range(5)
    ]
    assert _same_rng_state(np.random.get_state(), state)
    assert len(set(outputs)) > 1  # different seeds sample different text
    assert text_model.generate("abc", random_state=0, **kwargs) == outputs[0]
    rs = np.random.RandomState(0)
    assert text_model.generate("abc", random_state=rs, **kwargs) == outputs[0]
    np.random.seed(123)
    tf.random.set_seed(123)
    assert text_model.generate("abc", random_state=1, **kwargs) == outputs[1]


def test_top_k_one_is_greedy(text_model):
    prompts = ["", "abc", "hh", "ba"]
    greedy = text_model.generate(
        prompts, max_new_tokens=20, temperature=0, stop_at_eod=False
    )
    for seed in range(3):
        sampled = text_model.generate(
            prompts,
            max_new_tokens=20,
            temperature=5.0,
            top_k=1,
            stop_at_eod=False,
            random_state=seed,
        )
        assert sampled == greedy


def test_top_k_samples_among_most_likely_tokens(text_model):
    prompts = ["", "abc", "hh", "ba", "hgfedcba"]
    top2 = np.argsort(text_model.predict_proba(prompts), axis=1)[:, -2:]
    vocabulary = text_model.sequencer_.vocabulary_
    seen = set()  # (prompt, token) pairs sampled
    for seed in range(10):
        out = text_model.generate(
            prompts,
            max_new_tokens=1,
            temperature=10.0,
            top_k=2,
            stop_at_eod=False,
            random_state=seed,
        )
        for i, (allowed, text) in enumerate(zip(top2, out, strict=True)):
            token = vocabulary[text] if text else EOD
            assert token in allowed
            seen.add((i, token))
    assert len(seen) > len(prompts)  # high temperature: not always the top token


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"temperature": -1},
            "The 'temperature' parameter of generate must be a float >= 0. "
            r"Got -1(\.0)? instead.",
        ),
        (
            {"temperature": float("nan")},
            "The 'temperature' parameter of generate must be a float >= 0. "
            "Got nan instead.",
        ),
        (
            {"top_k": 0},
            r"The 'top_k' parameter of generate must be an int >= 1 or None. "
            "Got 0 instead.",
        ),
        (
            {"max_new_tokens": -1},
            "The 'max_new_tokens' parameter of generate must be an int >= 0. "
            "Got -1 instead.",
        ),
        (
            {"max_new_tokens": 2.5},
            "The 'max_new_tokens' parameter of generate must be an int >= 0. "
            r"Got 2\.5 instead.",
        ),
        (
            {"stop_at_eod": "yes"},
            "The 'stop_at_eod' parameter of generate must be a bool. "
            "Got 'yes' instead.",
        ),
    ],
)
def test_generate_validates_controls(text_model, kwargs, message):
    with pytest.raises(ValueError, match=message):
        text_model.generate("abc", **kwargs)


# --------------------------------------------------------------------------
# parameters and input checks


SHORT_WINDOW = (
    "The training text has 10 tokens (end-of-document markers included), fewer "
    "than the 11 that one window of sequence_length=10 needs; training on "
    "windows of 9 tokens, the longest it holds."
)


def test_text_shorter_than_one_window_trains_on_the_longest_window_it_holds():
    gen = LSTMTextGenerator(**TINY)  # sequence_length=10
    with pytest.warns(UserWarning) as record:
        gen.fit([PATTERN])  # <eod> + 8 chars + <eod>
    assert [str(w.message) for w in record if "window" in str(w.message)] == [
        SHORT_WINDOW + " Pass more text or a smaller sequence_length to train on "
        "windows of sequence_length tokens."
    ]
    assert record[0].filename == __file__  # points at the caller's fit
    # Exactly what asking for those windows trains, and nothing else changes.
    same = LSTMTextGenerator(**dict(TINY, sequence_length=9)).fit([PATTERN])
    assert gen.history_ == same.history_
    assert gen.n_epochs_ == 1
    assert gen.get_params()["sequence_length"] == 10
    for a, b in zip(gen.model_.get_weights(), same.model_.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_text_of_one_window_or_more_keeps_sequence_length(recwarn):
    gen = LSTMTextGenerator(**TINY).fit(["x" * 9])  # a stream of 11 tokens
    assert not [w for w in recwarn if "window" in str(w.message)]
    assert gen.n_epochs_ == 1


def test_short_windows_warn_once_per_fit_not_per_epoch():
    gen = LSTMTextGenerator(**dict(TINY, epochs=4, stateful=True))
    with pytest.warns(UserWarning, match=re.escape(SHORT_WINDOW)) as record:
        gen.fit([PATTERN])
    assert len(record) == 1
    assert gen.n_epochs_ == 4 and all(math.isfinite(v) for v in gen.history_["loss"])


def test_partial_fit_and_warm_start_train_short_text_on_short_windows():
    gen = LSTMTextGenerator(**dict(TINY, warm_start=True)).fit(CORPUS[:20])
    with pytest.warns(UserWarning, match=re.escape(SHORT_WINDOW)):
        gen.partial_fit([PATTERN])
    with pytest.warns(UserWarning, match="training on windows of 3 tokens"):
        gen.fit(["ab"])
    assert gen.n_epochs_ == 3
    assert all(math.isfinite(v) for v in gen.history_["loss"])


def test_short_text_validates_on_windows_it_holds():
    # One document of 12 chars: its last quarter (3 chars) is held out, and
    # 9 chars train, on windows of 10 tokens; validation reads 4 tokens.
    gen = LSTMTextGenerator(**dict(TINY, sequence_length=50, validation_fraction=0.25))
    with pytest.warns(UserWarning, match="training on windows of 10 tokens") as rec:
        gen.fit(["abcdefghijkl"])
    assert len(rec) == 1
    assert len(gen.history_["val_loss"]) == 1
    assert math.isfinite(gen.history_["val_loss"][0])


@pytest.mark.parametrize(
    "docs, fraction, message",
    [
        (["a"], 0, "The training text has 1 token(s) (end-of-document markers "
         "not counted); training needs at least 2. Pass more text."),
        ([np.array([3])], 0, "The training text has 1 token(s) (end-of-document "
         "markers not counted); training needs at least 2. Pass more text."),
        (["abc"], 0.5, "The training text has 1 token(s) after holding out "
         "validation text (end-of-document markers not counted); training needs "
         "at least 2. Pass more text or a smaller validation_fraction."),
    ],
    ids=["char", "ids", "after-validation"],
)  # fmt: skip
def test_fit_rejects_text_of_fewer_than_two_tokens(docs, fraction, message):
    gen = LSTMTextGenerator(**dict(TINY, validation_fraction=fraction))
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        gen.fit(docs)
    assert not hasattr(gen, "model_")


_ONE_WINDOW_SCRIPT = """
import json
from sklstm import LSTMTextGenerator
results = []
for n_chars in (9, 14):  # streams of 11 and 16 tokens for sequence_length=10
    gen = LSTMTextGenerator(embedding_dim=8, units=16, sequence_length=10,
                            epochs=2, validation_fraction=0, random_state=0)
    try:
        gen.fit(["x" * n_chars])
    except ValueError as exc:
        results.append({"error": str(exc)})
    else:
        results.append({"n_epochs": gen.n_epochs_, "loss": gen.history_["loss"]})
print(json.dumps(results))
"""


def test_fit_on_about_one_window_of_text_terminates():
    # A corpus with room for one window but not two must either train on what
    # it has or refuse with the sequence_length error; it must not hang. Run in
    # a child process so that a hang fails this test instead of the session.
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _ONE_WINDOW_SCRIPT],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("fit on a corpus of one window did not finish within 60 s")
    assert proc.returncode == 0, proc.stderr[-2000:]
    for result in json.loads(proc.stdout.strip().splitlines()[-1]):
        if "error" in result:
            assert "sequence_length=10" in result["error"]
        else:
            assert result["n_epochs"] == 2
            assert all(math.isfinite(v) for v in result["loss"])


@pytest.mark.parametrize(
    "method", ["predict", "predict_proba", "score", "score_samples", "generate"]
)
def test_methods_need_fit(method):
    with pytest.raises(NotFittedError, match="This LSTMTextGenerator instance is not"):
        getattr(LSTMTextGenerator(), method)(["abc"])
    with pytest.raises(NotFittedError, match="This LSTMTextGenerator instance is not"):
        getattr(LSTMTextGenerator(), method)([[3, 4]])


def test_nested_sequencer_parameters():
    params = LSTMTextGenerator().get_params(deep=True)
    assert params["sequencer"] is None
    assert params["sequencer__level"] == "char"

    gen = LSTMTextGenerator()
    assert gen.set_params(sequencer__level="word") is gen
    assert isinstance(gen.sequencer, TextSequencer)
    assert gen.sequencer.level == "word"
    assert gen.get_params(deep=True)["sequencer__level"] == "word"

    fresh = LSTMTextGenerator()
    assert fresh.sequencer is None
    assert fresh.get_params(deep=True)["sequencer__level"] == "char"
    assert LSTMTextGenerator().set_params(sequencer__lowercase=False).sequencer is not (
        LSTMTextGenerator().set_params(sequencer__lowercase=False).sequencer
    )

    gen.set_params(**dict(TINY, sequence_length=5))
    gen.fit(["The cat sat on the mat."] * 5)
    assert gen.sequencer_.level == "word"
    assert "cat" in gen.sequencer_.vocabulary_
    assert gen.sequencer.level == "word"
    assert not hasattr(gen.sequencer, "vocabulary_")


@pytest.mark.parametrize("level", ["char", "word", "subword"])
def test_fit_holds_the_ids_of_a_small_vocabulary_in_two_bytes(level, monkeypatch):
    # Up to 65,536 ids, the documents' ids and the joined stream are uint16
    # while fit prepares them; transform still returns int32.
    from sklstm import _data

    docs = ["the cat sat on the mat. " * 8, "a dog ran in the fog! " * 8]
    seen = []
    join = _data.join_documents

    def spy(sequences, vocab_size=None):
        stream = join(sequences, vocab_size)
        seen.append(({s.dtype for s in sequences}, stream.dtype))
        return stream

    monkeypatch.setattr(_data, "join_documents", spy)
    sequencer = TextSequencer(
        level=level, vocab_size=300 if level == "subword" else None
    )
    gen = LSTMTextGenerator(sequencer=sequencer, **dict(TINY, validation_fraction=0.5))
    gen.fit(docs)
    uint16 = np.dtype(np.uint16)
    assert seen == [({uint16}, uint16)] * 2  # training and validation
    assert {ids.dtype for ids in gen.sequencer_.transform(docs)} == {np.dtype(np.int32)}
    gen.set_params(warm_start=True).fit(docs)
    assert seen[2:] == [({uint16}, uint16)] * 2
