"""Reliability: bad input, misuse and concurrency never break a fitted model.

Every error test pins the message and then checks that the estimator still
works: its fitted attributes are the very objects they were, and it generates,
scores and predicts exactly as before the error. Two tiny models are fitted
once for the module (one on raw text, one on word ids) and shared; a failed
call that changes one anyway is caught, and the model is put back, so that
one fault cannot spread to the other tests.
"""

import contextlib
import copy
import math
import re
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from corpora import TINY
from helpers import run_python
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline

import sklstm
from sklstm import LSTMTextGenerator, TextSequencer

PAD, OOV, EOD = 0, 1, 2
INT32_MAX = 2**31 - 1

DOCS = ["the cat sat on the mat. " * 3, "a dog ran in the fog! " * 3]
WORD_DOCS = [
    "the cat sat on the mat",
    "the dog ran to the log",
    "a bird sang in a tree",
    "the fox hid in a box to sleep",
]
PROMPTS = ["the ", "", "a dog"]
_CHAR_ALPHABET = sorted(set("".join(DOCS)))  # the char model's real tokens
ID_VOCAB = TextSequencer(level="word").fit(WORD_DOCS).vocab_size_
ID_PROMPTS = [np.array([3, 4]), np.array([5]), np.array([6, 7, 8])]
GEN = dict(max_new_tokens=12, random_state=0)
NOT_FITTED = "This LSTMTextGenerator instance is not fitted yet"
TEXT_METHODS = ["fit", "score", "predict", "predict_proba", "score_samples"]
PROPERTY_SETTINGS = settings(max_examples=10, deadline=None, database=None)


@pytest.fixture(scope="module")
def text_model():
    """Char level, fitted on raw text; shared, so errors must leave it alone."""
    return LSTMTextGenerator(**TINY).fit(DOCS)


@pytest.fixture(scope="module")
def word_sequencer():
    return TextSequencer(level="word").fit(WORD_DOCS)


@pytest.fixture(scope="module")
def id_docs(word_sequencer):
    return word_sequencer.transform(WORD_DOCS)


@pytest.fixture(scope="module")
def id_model(id_docs):
    """Fitted on word ids (a ragged list of arrays, no n_features_in_); shared."""
    return LSTMTextGenerator(**TINY).fit(id_docs)


@pytest.fixture(scope="module")
def word_pipe(word_sequencer, id_model):
    """The two fitted steps as a pipeline, for text prompts to the id model."""
    return make_pipeline(word_sequencer, id_model)


@pytest.fixture(scope="module")
def text_before(text_model):
    return _behaviour(text_model, PROMPTS, DOCS)


@pytest.fixture(scope="module")
def id_before(id_model, id_docs):
    return _behaviour(id_model, ID_PROMPTS, id_docs)


def _behaviour(model, prompts, docs):
    """What a fitted model computes: sampled text or ids, scores, predictions."""
    return {
        "generate": model.generate(prompts, **GEN),
        "score_samples": model.score_samples(docs),
        "predict_proba": model.predict_proba(prompts),
        "predict": model.predict(prompts),
    }


def _assert_text_model_works(model, before):
    after = _behaviour(model, PROMPTS, DOCS)
    assert after["generate"] == before["generate"]
    for key in ("score_samples", "predict_proba", "predict"):
        np.testing.assert_array_equal(after[key], before[key])


def _assert_id_model_works(model, before, id_docs):
    after = _behaviour(model, ID_PROMPTS, id_docs)
    for got, want in zip(after["generate"], before["generate"], strict=True):
        np.testing.assert_array_equal(got, want)
    for key in ("score_samples", "predict_proba", "predict"):
        np.testing.assert_array_equal(after[key], before[key])


def _same(a, b):
    return a is b or (isinstance(a, (int, float, str)) and a == b)


@contextlib.contextmanager
def _fitted_state_kept(estimator):
    """Check that the block leaves the fitted state of ``estimator`` alone.

    Compares every attribute that is not a parameter (the fitted attributes
    must stay the very same objects, none may appear or disappear) and the
    network's weights. The state before the block is restored either way, so
    a failure here does not spread to later tests; parameters the block sets
    are restored too.
    """
    params = set(estimator._get_param_names())
    state = dict(vars(estimator))
    network = state.get("model_")
    weights = None if network is None else network.get_weights()
    try:
        yield
    finally:
        now = dict(vars(estimator))
        weights_now = None if network is None else network.get_weights()
        vars(estimator).clear()
        vars(estimator).update(state)
        if network is not None:
            network.set_weights(weights)
    changed = sorted(
        key
        for key in state.keys() | now.keys()
        if key not in params
        and (key not in state or key not in now or not _same(state[key], now[key]))
    )
    assert not changed, f"the failed call changed fitted attributes {changed}"
    if network is not None:
        for w, w_now in zip(weights, weights_now, strict=True):
            np.testing.assert_array_equal(w, w_now)


# --------------------------------------------------------------------------
# 1. Documents: bare strings, non-str items, empty and too-short corpora


def _bare_string_error(owner, method, bare):
    """The message refusing one str or bytes where documents were expected."""
    return (
        f"{owner}.{method} expects an iterable of str documents (for example a "
        f"list of strings); got a single {type(bare).__name__} instead. Wrap "
        "it in a list: [text]."
    )


@pytest.mark.parametrize("bare", ["the cat", b"the cat"], ids=["str", "bytes"])
@pytest.mark.parametrize("method", TEXT_METHODS)
def test_bare_string_is_refused_and_the_model_keeps_working(
    text_model, text_before, method, bare
):
    msg = _bare_string_error("LSTMTextGenerator", method, bare)
    with (
        _fitted_state_kept(text_model),
        pytest.raises(ValueError, match=f"^{re.escape(msg)}$"),
    ):
        getattr(text_model, method)(bare)
    _assert_text_model_works(text_model, text_before)


@pytest.mark.parametrize("bare", ["the cat", b"the cat"], ids=["str", "bytes"])
@pytest.mark.parametrize("method", ["fit", "transform"])
def test_sequencer_refuses_bare_string_and_keeps_its_vocabulary(
    word_sequencer, method, bare
):
    before = word_sequencer.transform(WORD_DOCS)
    msg = _bare_string_error("TextSequencer", method, bare)
    with (
        _fitted_state_kept(word_sequencer),
        pytest.raises(ValueError, match=f"^{re.escape(msg)}$"),
    ):
        getattr(word_sequencer, method)(bare)
    for got, want in zip(word_sequencer.transform(WORD_DOCS), before, strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(
    "item, shown",
    [
        (None, "None (NoneType)"),
        (b"ab", "b'ab' (bytes)"),
        (3, "3 (int)"),
        (math.nan, "nan (float)"),
    ],
    ids=["None", "bytes", "int", "nan"],
)
@pytest.mark.parametrize("alone", [False, True], ids=["after-a-str", "alone"])
@pytest.mark.parametrize("method", TEXT_METHODS)
def test_non_str_documents_are_refused_with_their_index(
    text_model, text_before, method, alone, item, shown
):
    # A scalar is neither a document nor an id sequence. With a str among them
    # the items are documents; without one they may have been meant as ids, so
    # the message may say either, but it must name the method and the item.
    if alone:
        docs = [item]
        pattern = (
            rf"^LSTMTextGenerator\.{method} expects .+; .*"
            rf"index 0: {re.escape(shown)}"
        )
    else:
        docs = ["the cat", item]
        pattern = "^" + re.escape(
            f"LSTMTextGenerator.{method} expects every document to be a str; got 1 "
            f"non-str item(s): index 1: {shown}."
        )
    with _fitted_state_kept(text_model), pytest.raises(TypeError, match=pattern):
        getattr(text_model, method)(docs)
    _assert_text_model_works(text_model, text_before)


@pytest.mark.parametrize(
    "make_empty", [list, tuple, lambda: iter([])], ids=["list", "tuple", "iterator"]
)
@pytest.mark.parametrize("method", TEXT_METHODS)
def test_empty_input_is_refused(text_model, text_before, method, make_empty):
    msg = (
        f"LSTMTextGenerator.{method} expects at least one document or id "
        "sequence; got an empty input."
    )
    with (
        _fitted_state_kept(text_model),
        pytest.raises(ValueError, match=f"^{re.escape(msg)}$"),
    ):
        getattr(text_model, method)(make_empty())
    _assert_text_model_works(text_model, text_before)


_NO_TOKENS = (
    "TextSequencer.fit found no tokens in 2 document(s): they are empty, or "
    "empty after normalisation (level={!r}). Pass documents that contain text."
)
_TOO_SHORT = (
    "The training text has {} token(s) (end-of-document markers not counted); "
    "training needs at least 2. Pass more text."
)


@pytest.mark.parametrize(
    "level, docs, msg",
    [
        ("char", ["", ""], _NO_TOKENS.format("char")),
        ("word", ["", ""], _NO_TOKENS.format("word")),
        ("word", ["   ", "\n\t "], _NO_TOKENS.format("word")),
        ("word", ["!!! ...", "42 - 7"], _NO_TOKENS.format("word")),
        # Whitespace is text at char level: here only too little of it.
        ("char", [" ", ""], _TOO_SHORT.format(1)),
        ("char", ["t"], _TOO_SHORT.format(1)),
        ("word", ["the", ""], _TOO_SHORT.format(1)),
    ],
    ids=[
        "char-empty",
        "word-empty",
        "word-whitespace",
        "word-punctuation",
        "char-whitespace",
        "char-short",
        "word-short",
    ],
)
def test_failed_fit_leaves_the_fitted_model_working(
    text_model, text_before, level, docs, msg
):
    with _fitted_state_kept(text_model):
        text_model.set_params(sequencer__level=level)
        with pytest.raises(ValueError, match=f"^{re.escape(msg)}$"):
            text_model.fit(docs)
    _assert_text_model_works(text_model, text_before)


def test_failed_fit_leaves_the_id_model_working(id_model, id_before, id_docs):
    # A valid id that would widen the vocabulary, but too few tokens to train.
    with (
        _fitted_state_kept(id_model),
        pytest.raises(ValueError, match=f"^{re.escape(_TOO_SHORT.format(1))}$"),
    ):
        id_model.fit([np.array([99])])
    _assert_id_model_works(id_model, id_before, id_docs)


def test_failed_fit_leaves_an_unfitted_model_unfitted():
    gen = LSTMTextGenerator(**TINY)
    with pytest.raises(ValueError, match=re.escape(_TOO_SHORT.format(1))):
        gen.fit(["t"])
    with pytest.raises(NotFittedError, match=NOT_FITTED):
        gen.generate("the")


# --------------------------------------------------------------------------
# 2. Prompts: unseen tokens, the empty prompt, prompts that are not text


def test_unseen_characters_in_prompts_are_read_as_out_of_vocabulary(text_model):
    alphabet = set(text_model.sequencer_.vocabulary_) - {"<pad>", "<unk>", "<eod>"}
    unseen = ["xyz", "€\x00Ω", "the zoo", "\ufffd"]
    assert not set("xyz€\x00Ω\ufffd") & alphabet

    out = text_model.generate(unseen, **GEN)

    assert all(isinstance(text, str) for text in out)
    assert set("".join(out)) <= alphabet
    # Every unseen character is the same out-of-vocabulary id.
    assert out == text_model.generate(["QQQ", "qqq", "the qoo", "q"], **GEN)
    proba = text_model.predict_proba(unseen)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert np.isfinite(text_model.score_samples(unseen)).all()
    assert "".join(text_model.stream("xyz", **GEN)) == text_model.generate("xyz", **GEN)


def test_unseen_words_in_prompts_are_read_as_out_of_vocabulary(word_pipe):
    vocabulary = set(word_pipe[0].vocabulary_)
    prompts = ["zebra unicorn", "the zebra", "Zebra!"]

    out = sklstm.generate(word_pipe, prompts, **GEN)

    assert all(isinstance(text, str) for text in out)
    words = " ".join(out).split()
    assert words and set(words) <= vocabulary - {"<pad>", "<unk>", "<eod>"}
    assert out == sklstm.generate(word_pipe, ["yak llama", "the yak", "Yak!"], **GEN)
    streamed = "".join(sklstm.stream(word_pipe, "zebra unicorn", **GEN))
    assert streamed == sklstm.generate(word_pipe, "zebra unicorn", **GEN)


def test_empty_prompt_starts_a_new_document(text_model):
    greedy = dict(max_new_tokens=12, temperature=0)
    alone = text_model.generate("", **greedy)
    assert isinstance(alone, str)
    assert text_model.generate(**greedy) == alone
    assert text_model.generate(["", "the "], **greedy)[0] == alone
    assert "".join(text_model.stream("", **greedy)) == alone


@pytest.mark.parametrize(
    "prompt",
    ["", np.array([], dtype=np.int32), [np.array([], dtype=np.int64)], None],
    ids=["empty-str", "empty-array", "list-of-empty-array", "default"],
)
def test_empty_prompt_works_on_an_id_model(id_model, prompt):
    # The empty prompt (the default) is documented to start a new document;
    # ragged batches that hold one already work, alone it must too.
    greedy = dict(max_new_tokens=12, temperature=0, stop_at_eod=False)
    expected = id_model.generate([np.array([], dtype=int), np.array([3])], **greedy)
    if prompt is None:
        out = id_model.generate(**greedy)
    else:
        out = id_model.generate(prompt, **greedy)
    if isinstance(prompt, list):
        (out,) = out
    np.testing.assert_array_equal(out, expected[0])
    # Alone or beside another row: float32 matrix products may round a row
    # differently in batches of other sizes (by 1e-8 here), no more.
    np.testing.assert_allclose(
        id_model.predict_proba([[]]),
        id_model.predict_proba([[], [3]])[:1],
        rtol=1e-6,
        atol=1e-9,
    )


_NOT_TEXT = [
    (3, "int"),
    (2.5, "float"),
    (None, "NoneType"),
    (True, "bool"),
    ({"the ": 1}, "dict"),
]


@pytest.mark.parametrize(
    "call",
    [
        lambda model, prompt: model.generate(prompt, **GEN),
        lambda model, prompt: model.stream(prompt, **GEN),
        lambda model, prompt: sklstm.generate(model, prompt, **GEN),
        lambda model, prompt: sklstm.stream(model, prompt, **GEN),
    ],
    ids=["generate", "stream", "sklstm.generate", "sklstm.stream"],
)
@pytest.mark.parametrize("prompt, name", _NOT_TEXT, ids=[n for _, n in _NOT_TEXT])
def test_prompt_that_is_not_text_gets_a_type_error(
    text_model, text_before, call, prompt, name
):
    # A dict iterates over its keys: it must not be read as a list of prompts.
    pattern = rf"^(LSTMTextGenerator\.)?(generate|stream) expects .+; got {name}"
    pattern += r"( instead)?\.$"
    with _fitted_state_kept(text_model), pytest.raises(TypeError, match=pattern):
        call(text_model, prompt)
    _assert_text_model_works(text_model, text_before)


@pytest.mark.parametrize(
    "prompts, index, shown",
    [
        (["the ", None], 1, "None (NoneType)"),
        ([None], 0, "None (NoneType)"),
        ([None, None], 0, "None (NoneType)"),
        ([b"the"], 0, "b'the' (bytes)"),
    ],
    ids=["str-then-None", "None", "two-None", "bytes"],
)
def test_list_of_prompts_with_non_str_items_is_refused(
    text_model, text_before, prompts, index, shown
):
    pattern = rf"^LSTMTextGenerator\.generate expects .+; .*index {index}: "
    pattern += re.escape(shown)
    with _fitted_state_kept(text_model), pytest.raises(TypeError, match=pattern):
        text_model.generate(prompts, **GEN)
    _assert_text_model_works(text_model, text_before)


# --------------------------------------------------------------------------
# 3. Id input: negative, out-of-range and non-integer ids


def _bad_ids(vocab):
    """(case, ids, message after "LSTMTextGenerator.<method> expects ")."""
    return [
        (
            "negative-ragged",
            [[3], [4, -1]],
            f"token ids in [0, {vocab}); sequence 1 holds [-1]. Negative values in "
            "data are never ids.",
        ),
        (
            "negative-array",
            np.array([[3, -1], [3, 4]]),
            f"token ids in [0, {vocab}); sequence 0 holds [-1]. Negative values in "
            "data are never ids.",
        ),
        (
            "beyond-int32",
            np.array([[3, 2**31]], dtype=np.int64),
            f"token ids in [0, {vocab}); sequence 0 holds [2147483648].",
        ),
        (
            "fraction",
            [[3, 2.5]],
            "integer token ids; sequence 0 has dtype float64 with values such as "
            "[3.0, 2.5].",
        ),
        (
            "nan-ragged",
            [[3], [4, math.nan]],
            "integer token ids; sequence 1 has dtype float64 with values such as "
            "[4.0, nan].",
        ),
    ]


_ID_CASES = [case for case, _, _ in _bad_ids(0)]


@pytest.mark.parametrize("case", _ID_CASES)
@pytest.mark.parametrize(
    "method", ["predict", "predict_proba", "score", "score_samples", "generate"]
)
def test_bad_ids_are_refused_by_a_fitted_id_model(
    id_model, id_before, id_docs, method, case
):
    ((_, ids, msg),) = [c for c in _bad_ids(id_model.vocab_size_) if c[0] == case]
    msg = f"LSTMTextGenerator.{method} expects {msg}"
    with (
        _fitted_state_kept(id_model),
        pytest.raises(ValueError, match=f"^{re.escape(msg)}$"),
    ):
        getattr(id_model, method)(ids)
    _assert_id_model_works(id_model, id_before, id_docs)


@pytest.mark.parametrize("case", _ID_CASES)
def test_bad_ids_are_refused_by_fit_and_the_id_model_keeps_working(
    id_model, id_before, id_docs, case
):
    # At fit every id below the int32 limit is valid: it sizes the vocabulary.
    ((_, ids, msg),) = [c for c in _bad_ids(INT32_MAX) if c[0] == case]
    msg = f"LSTMTextGenerator.fit expects {msg}"
    with (
        _fitted_state_kept(id_model),
        pytest.raises(ValueError, match=f"^{re.escape(msg)}$"),
    ):
        id_model.fit(ids)
    _assert_id_model_works(id_model, id_before, id_docs)


@pytest.mark.parametrize(
    "method", ["fit", "predict", "predict_proba", "score", "score_samples"]
)
def test_nan_in_an_id_array_is_refused(id_model, id_before, id_docs, method):
    # Rectangular input goes through scikit-learn's own NaN check.
    with (
        _fitted_state_kept(id_model),
        pytest.raises(ValueError, match=r"^Input (X )?contains NaN\."),
    ):
        getattr(id_model, method)(np.array([[3.0, math.nan], [3.0, 4.0]]))
    _assert_id_model_works(id_model, id_before, id_docs)


@pytest.mark.parametrize(
    "prompt, msg",
    [
        (
            [3, -1],
            "token ids in [0, {}); sequence 0 holds [-1]. Negative values in data "
            "are never ids.",
        ),
        (np.array([3, 99]), "token ids in [0, {}); sequence 0 holds [99]."),
        (
            [3, 2.5],
            "integer token ids; sequence 0 has dtype float64 with values such as "
            "[3.0, 2.5].",
        ),
        (
            np.array([3.5, 4.0]),
            "integer token ids; sequence 0 has dtype float64 with values such as "
            "[3.5, 4.0].",
        ),
    ],
    ids=["negative", "out-of-range", "fraction", "float-array"],
)
def test_bad_ids_in_one_prompt_are_refused(id_model, id_before, id_docs, prompt, msg):
    msg = "LSTMTextGenerator.generate expects " + msg.format(id_model.vocab_size_)
    with (
        _fitted_state_kept(id_model),
        pytest.raises(ValueError, match=f"^{re.escape(msg)}$"),
    ):
        id_model.generate(prompt, **GEN)
    _assert_id_model_works(id_model, id_before, id_docs)


def test_nan_in_one_prompt_is_refused(id_model, id_before, id_docs):
    # As in a batch: scikit-learn's NaN check (for a rectangular prompt) or the
    # integer check, never a message about array shapes.
    pattern = (
        r"^(Input contains NaN\.|LSTMTextGenerator\.generate expects integer "
        r"token ids; sequence 0 has dtype float64 with values such as "
        r"\[3\.0, nan\]\.)$"
    )
    with _fitted_state_kept(id_model), pytest.raises(ValueError, match=pattern):
        id_model.generate([3, math.nan], **GEN)
    _assert_id_model_works(id_model, id_before, id_docs)


# --------------------------------------------------------------------------
# 4. Parameters out of range at fit, generation controls out of range


@pytest.mark.parametrize(
    "param, value, expected",
    [
        ("embedding_dim", 0, "an int >= 1"),
        ("embedding_dim", -4, "an int >= 1"),
        ("embedding_dim", 4.0, "an int >= 1"),
        ("dense_units", 0, "an int >= 1 or None"),
        ("dense_units", -8, "an int >= 1 or None"),
        ("sequence_length", 0, "an int >= 1"),
        ("sequence_length", -1, "an int >= 1"),
        ("batch_size", 0, "an int >= 1"),
        ("batch_size", True, "an int >= 1"),
        ("epochs", -1, "an int >= 1 or None"),
        ("epochs", 1.5, "an int >= 1 or None"),
        ("dropout", -0.1, "a float >= 0 and < 1, or 'auto'"),
        ("dropout", 1.5, "a float >= 0 and < 1, or 'auto'"),
        ("dropout", math.nan, "a float >= 0 and < 1, or 'auto'"),
        ("l2", -1e-3, "a float >= 0"),
        ("l2", math.inf, "a float >= 0"),
        ("learning_rate", -0.1, "a float > 0"),
        ("learning_rate", math.nan, "a float > 0"),
        ("validation_fraction", -0.1, "a float >= 0 and < 1"),
        ("validation_fraction", 1.5, "a float >= 0 and < 1"),
        ("n_iter_no_change", 0, "an int >= 1"),
        ("n_iter_no_change", -2, "an int >= 1"),
    ],
)
def test_parameter_out_of_range_is_refused_at_fit(
    text_model, text_before, param, value, expected
):
    msg = (
        f"The {param!r} parameter of LSTMTextGenerator must be {expected}. "
        f"Got {value!r} instead."
    )
    with _fitted_state_kept(text_model):
        text_model.set_params(**{param: value})
        with pytest.raises(ValueError, match=f"^{re.escape(msg)}$"):
            text_model.fit(DOCS)
    _assert_text_model_works(text_model, text_before)


@pytest.mark.parametrize(
    "params",
    [{"sequencer__level": "byte"}, {"sequencer": TextSequencer(level="byte")}],
    ids=["nested", "instance"],
)
def test_unknown_sequencer_level_is_refused_at_fit(text_model, text_before, params):
    msg = (
        "The 'level' parameter of TextSequencer must be one of 'char', 'word', "
        "'subword'. Got 'byte' instead."
    )
    with _fitted_state_kept(text_model):
        text_model.set_params(**params)
        with pytest.raises(ValueError, match=f"^{re.escape(msg)}$"):
            text_model.fit(DOCS)
    _assert_text_model_works(text_model, text_before)


@pytest.mark.parametrize(
    "control, value, expected",
    [
        ("temperature", -1e-3, "a float >= 0"),
        ("temperature", -math.inf, "a float >= 0"),
        ("top_k", -1, "an int >= 1 or None"),
        ("top_k", 2.5, "an int >= 1 or None"),
        ("top_p", 0, "a float > 0 and <= 1 or None"),
        ("top_p", -0.1, "a float > 0 and <= 1 or None"),
        ("top_p", 1.0001, "a float > 0 and <= 1 or None"),
        ("top_p", math.nan, "a float > 0 and <= 1 or None"),
        ("max_new_tokens", -5, "an int >= 0"),
        ("max_new_tokens", 3.0, "an int >= 0"),
        ("max_new_tokens", "10", "an int >= 0"),
        ("max_new_tokens", None, "an int >= 0"),
        ("max_new_tokens", True, "an int >= 0"),
    ],
)
@pytest.mark.parametrize(
    "where", ["generate", "stream", "sklstm.generate", "sklstm.stream"]
)
def test_generation_control_out_of_range_is_refused(
    text_model, text_before, where, control, value, expected
):
    name = where.rpartition(".")[2]
    call = {
        "generate": text_model.generate,
        "stream": text_model.stream,
        "sklstm.generate": lambda p, **kw: sklstm.generate(text_model, p, **kw),
        "sklstm.stream": lambda p, **kw: sklstm.stream(text_model, p, **kw),
    }[where]
    msg = (
        f"The {control!r} parameter of {name} must be {expected}. "
        f"Got {value!r} instead."
    )
    with (
        _fitted_state_kept(text_model),
        pytest.raises(ValueError, match=f"^{re.escape(msg)}$"),
    ):
        call("the ", **{control: value})
    _assert_text_model_works(text_model, text_before)


# --------------------------------------------------------------------------
# 5. Methods called before fit


_UNFITTED_CALLS = {
    "predict": lambda gen, path: gen.predict(["the "]),
    "predict_proba": lambda gen, path: gen.predict_proba(["the "]),
    "score": lambda gen, path: gen.score(DOCS),
    "score_samples": lambda gen, path: gen.score_samples(DOCS),
    "generate": lambda gen, path: gen.generate("the "),
    "generate-ids": lambda gen, path: gen.generate([3, 4]),
    "stream": lambda gen, path: gen.stream("the "),
    "save": lambda gen, path: gen.save(path),
    "sklstm.generate": lambda gen, path: sklstm.generate(gen, "the "),
    "sklstm.stream": lambda gen, path: sklstm.stream(gen, "the "),
}


@pytest.mark.parametrize("name", list(_UNFITTED_CALLS))
def test_methods_before_fit_raise_not_fitted_error(name, tmp_path):
    gen = LSTMTextGenerator(**TINY)
    path = tmp_path / "model.sklstm"
    with pytest.raises(NotFittedError, match=f"^{NOT_FITTED}"):
        _UNFITTED_CALLS[name](gen, path)
    assert vars(gen) == vars(LSTMTextGenerator(**TINY))  # nothing fitted, no leftovers
    assert not list(tmp_path.iterdir())  # save wrote nothing, not even a temp file


def test_model_fits_normally_after_calls_before_fit(text_before, tmp_path):
    gen = LSTMTextGenerator(**TINY)
    for call in _UNFITTED_CALLS.values():
        with pytest.raises(NotFittedError):
            call(gen, tmp_path / "model.sklstm")
    gen.fit(DOCS)
    _assert_text_model_works(gen, text_before)  # the same model as the fixture's


@pytest.mark.parametrize("method", ["transform", "inverse_transform"])
def test_sequencer_methods_before_fit_raise_not_fitted_error(method):
    seq = TextSequencer(level="word")
    arg = [[3, 4]] if method == "inverse_transform" else ["the cat"]
    with pytest.raises(
        NotFittedError, match="^This TextSequencer instance is not fitted yet"
    ):
        getattr(seq, method)(arg)
    assert vars(seq) == vars(TextSequencer(level="word"))
    fitted = seq.fit(WORD_DOCS)
    assert fitted.inverse_transform(fitted.transform(["the cat"])) == ["the cat"]


# --------------------------------------------------------------------------
# 6. Concurrency

_CALLS = [
    (seed, prompts)
    for seed, prompts in enumerate(
        [
            "the ",
            ["the ", "a"],
            ["", "a dog", "the cat"],
            "a dog ",
            ["the ", "mat"],
            ["fog", "", "ran"],
            "",
            ["cat", "dog"],
        ]
    )
]


def _generate(model, seed, prompts):
    return model.generate(
        prompts, max_new_tokens=16, temperature=1.5, random_state=seed
    )


def test_concurrent_generate_equals_serial_generate(text_model):
    serial = [_generate(text_model, seed, prompts) for seed, prompts in _CALLS]
    assert len({str(out) for out in serial}) == len(_CALLS)  # seeds matter
    # A copy holds no compiled loops yet: the threads race to build them.
    cold = copy.deepcopy(text_model)
    for model in (cold, text_model):
        with ThreadPoolExecutor(max_workers=4) as pool:
            futures = [
                pool.submit(_generate, model, seed, prompts) for seed, prompts in _CALLS
            ]
            concurrent = [f.result() for f in futures]
        assert concurrent == serial
    assert [_generate(cold, seed, prompts) for seed, prompts in _CALLS] == serial


# --------------------------------------------------------------------------
# 7. Properties of generated output


def _controls(vocab):
    return st.fixed_dictionaries(
        {
            "temperature": st.floats(0, 2),
            "top_k": st.none() | st.integers(1, vocab),
            "top_p": st.none() | st.floats(0, 1, exclude_min=True),
            "repetition_penalty": st.none() | st.floats(1, 2),
            "max_new_tokens": st.integers(0, 30),
            "random_state": st.integers(0, 2**31 - 2),
        }
    )


# A top_p that float32 rounds to 0: each row must still keep its own top token.
_TINY_TOP_P = dict(
    temperature=1.0,
    top_k=None,
    top_p=1e-40,
    repetition_penalty=None,
    max_new_tokens=8,
    random_state=1,
)


@PROPERTY_SETTINGS
@example(controls=_TINY_TOP_P, prompts=[[3], [3, 3]])
@given(
    controls=_controls(ID_VOCAB),
    prompts=st.lists(
        st.lists(st.integers(3, ID_VOCAB - 1), min_size=1, max_size=6),
        min_size=2,
        max_size=2,
    ),
)
def test_property_generated_ids_stay_in_the_vocabulary(id_model, controls, prompts):
    vocab = id_model.vocab_size_
    assert vocab == ID_VOCAB  # the strategies above assume it

    out = id_model.generate(prompts, stop_at_eod=False, **controls)

    assert len(out) == len(prompts)
    for row in out:
        assert np.issubdtype(row.dtype, np.integer)
        assert len(row) == controls["max_new_tokens"]
        assert ((row >= EOD) & (row < vocab)).all(), row
        assert not np.isin(row, [PAD, OOV]).any()


@PROPERTY_SETTINGS
@example(controls=_TINY_TOP_P, prompts=["the ", "a"], stop_at_eod=False)
@given(
    controls=_controls(3 + len(_CHAR_ALPHABET)),
    prompts=st.lists(
        st.text(st.sampled_from(_CHAR_ALPHABET + list("xyz€\n")), max_size=6),
        min_size=2,
        max_size=2,
    ),
    stop_at_eod=st.booleans(),
)
def test_property_generated_text_uses_only_fitted_characters(
    text_model, controls, prompts, stop_at_eod
):
    assert text_model.vocab_size_ == 3 + len(_CHAR_ALPHABET)

    out = text_model.generate(prompts, stop_at_eod=stop_at_eod, **controls)

    assert len(out) == len(prompts)
    for text in out:
        assert isinstance(text, str)
        assert set(text) <= set(_CHAR_ALPHABET)  # no "\ufffd": never <unk>
        assert len(text) <= controls["max_new_tokens"]


_FRESH_FIT_SCORE_GENERATE = """
import sys
from sklstm import LSTMTextGenerator
params, docs = eval(sys.argv[1]), eval(sys.argv[2])
LSTMTextGenerator(**dict(params, stateful=True)).fit(docs)
model = LSTMTextGenerator(**dict(params, validation_fraction=0.5)).fit(docs)
model.score(docs)
model.generate(["the ", "a"], max_new_tokens=5, top_k=3, top_p=0.9,
               repetition_penalty=1.2, random_state=0)
print([name for name in sys.modules if name.startswith("__autograph_generated")])
"""


def test_a_fresh_process_converts_no_source_with_autograph(tmp_path):
    # AutoGraph loads every function it converts as a module of its own
    # (``__autograph_generated_file...``); a conversion costs a fresh process
    # (the command line, a server, a worker of a search) tenths of a second.
    # sklstm's compiled functions are written to need none: fit (carried
    # states, and windows from zero states with validation), score and
    # generate with every control. A fresh process, since conversions are
    # cached for the life of a process.
    out = run_python(
        "-c", _FRESH_FIT_SCORE_GENERATE, repr(TINY), repr(DOCS), cwd=tmp_path
    )
    assert out.strip().splitlines()[-1] == "[]"


def test_fitting_many_models_keeps_tensorflow_quiet_about_retracing():
    # Each fitted model traces its own compiled functions, as it must; after
    # five of them TensorFlow would warn that functions keep retracing. Only
    # a user's own retracing function should still be reported.
    import logging

    import tensorflow as tf

    records = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append
    logger = tf.get_logger()
    logger.addHandler(handler)
    try:
        for seed in range(6):
            model = LSTMTextGenerator(**dict(TINY, random_state=seed)).fit(DOCS)
            model.score(DOCS)
            model.generate("the ", max_new_tokens=3, random_state=0)

        @tf.function
        def users_function(x):
            return x + 1

        for n in range(1, 8):
            users_function(tf.zeros([n]))
    finally:
        logger.removeHandler(handler)
    retracing = [r.getMessage() for r in records if "retracing" in r.getMessage()]
    assert retracing
    assert all("users_function" in message for message in retracing)
