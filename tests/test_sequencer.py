"""Tests for sklstm.sequencer.TextSequencer."""

import copy
import json
import math
import pickle
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from sklstm import TextSequencer

# Char level: "b" x4, "a" x3, then "A", "\n" and " " once each (in that order
# of first appearance). Upper and lower case stay distinct at char level.
CHAR_CORPUS = ["Abba\n", "ab ba"]
CHAR_VOCABULARY = {
    "<pad>": 0,
    "<unk>": 1,
    "<eod>": 2,
    "b": 3,
    "a": 4,
    "A": 5,
    "\n": 6,
    " ": 7,
}

# Word level: "the" x4, "cat" x2, every other word once.
WORD_CORPUS = [
    "The cat sat on the mat.",
    "The dog didn't sit; the cat did!",
    "3 cats & 2 dogs?",
]
WORD_TOKENS = [
    "the",
    "cat",
    "sat",
    "on",
    "mat",
    "dog",
    "didnt",
    "sit",
    "did",
    "cats",
    "dogs",
]

# One document that every word-level normalisation option changes.
PROBE = "Don't PANIC: 42 towels, R2-D2!"

# Punctuation that inverse_transform must glue back to its neighbours.
PUNCT_DOC = "wait, what? yes! no. (maybe) ok; fine: [x] {y}"

# Word counts: x=3, y=2, z=1, w=1 (z appears before w).
FREQ_CORPUS = ["x y x z y x", "w"]

# Hypothesis must not write a .hypothesis/ folder into the checkout, and
# timing is not part of the contract.
PROPERTY_SETTINGS = settings(max_examples=200, deadline=None, database=None)


def _tokens_of(seq, doc):
    """The vocabulary tokens ``seq`` turns ``doc`` into."""
    token_of = {i: tok for tok, i in seq.vocabulary_.items()}
    return [token_of[int(i)] for i in seq.transform([doc])[0]]


def _assert_same_sequences(a, b):
    assert len(a) == len(b)
    for row_a, row_b in zip(a, b, strict=True):
        assert row_a.dtype == row_b.dtype == np.int32
        np.testing.assert_array_equal(row_a, row_b)


# --------------------------------------------------------------- char level
def test_char_vocabulary_reserved_ids_then_most_frequent_first():
    seq = TextSequencer().fit(CHAR_CORPUS)

    assert seq.vocabulary_ == CHAR_VOCABULARY
    assert list(seq.vocabulary_) == list(CHAR_VOCABULARY)
    assert seq.vocab_size_ == 8


def test_char_transform_returns_list_of_int32_arrays():
    seq = TextSequencer().fit(CHAR_CORPUS)

    out = seq.transform(["ab", "", "A\n b"])

    assert isinstance(out, list)
    assert [arr.ndim for arr in out] == [1, 1, 1]
    _assert_same_sequences(
        out,
        [
            np.array([4, 3], dtype=np.int32),
            np.array([], dtype=np.int32),
            np.array([5, 6, 7, 3], dtype=np.int32),
        ],
    )


def test_char_round_trip_keeps_case_whitespace_and_newlines():
    seq = TextSequencer().fit(CHAR_CORPUS)
    docs = ["Abba\nab ba", "  \n\nAAbbaa", "b", ""]

    assert seq.inverse_transform(seq.transform(docs)) == docs


def test_char_unseen_characters_map_to_oov_and_decode_to_replacement_char():
    seq = TextSequencer().fit(CHAR_CORPUS)

    ids = seq.transform(["aZb\t", "B"])

    _assert_same_sequences(
        ids,
        [np.array([4, 1, 3, 1], dtype=np.int32), np.array([1], dtype=np.int32)],
    )
    assert seq.inverse_transform(ids) == ["a\ufffdb\ufffd", "\ufffd"]


def test_char_level_normalisation_is_opt_in():
    plain = TextSequencer().fit(["Hi, 2 you!"])
    normalised = TextSequencer(
        lowercase=True, strip_punctuation=True, strip_digits=True
    ).fit(["Hi, 2 you!"])

    assert _tokens_of(plain, "Hi, 2 you!") == list("Hi, 2 you!")
    # Digits vanish; punctuation marks become spaces.
    assert _tokens_of(normalised, "Hi, 2 you!") == list("hi   you ")


def test_inverse_transform_drops_padding_and_end_of_document():
    seq = TextSequencer().fit(CHAR_CORPUS)

    assert seq.inverse_transform([[0, 0, 4, 2, 3, 0]]) == ["ab"]
    assert seq.inverse_transform(np.array([[0, 5], [4, 2]])) == ["A", "a"]
    assert seq.inverse_transform([[]]) == [""]
    assert seq.inverse_transform([]) == []


def test_inverse_transform_accepts_integral_floats():
    seq = TextSequencer().fit(CHAR_CORPUS)

    assert seq.inverse_transform(np.array([[0.0, 4.0, 3.0]])) == ["ab"]


# --------------------------------------------------------------- word level
def test_word_default_vocabulary():
    seq = TextSequencer(level="word").fit(WORD_CORPUS)

    expected = {"<pad>": 0, "<unk>": 1, "<eod>": 2}
    expected.update({tok: i for i, tok in enumerate(WORD_TOKENS, start=3)})
    assert seq.vocabulary_ == expected
    assert seq.vocab_size_ == 3 + len(WORD_TOKENS)


@pytest.mark.parametrize(
    "options, expected",
    [
        ({}, ["dont", "panic", "towels", "r", "d"]),
        ({"lowercase": False}, ["Dont", "PANIC", "towels", "R", "D"]),
        ({"strip_digits": False}, ["dont", "panic", "42", "towels", "r2", "d2"]),
        (
            {"strip_punctuation": False},
            ["don't", "panic", ":", "towels", ",", "r", "-", "d", "!"],
        ),
        (
            {"lowercase": False, "strip_punctuation": False, "strip_digits": False},
            ["Don't", "PANIC", ":", "42", "towels", ",", "R2", "-", "D2", "!"],
        ),
    ],
)
def test_word_normalisation_options(options, expected):
    seq = TextSequencer(level="word", **options).fit([PROBE])

    assert _tokens_of(seq, PROBE) == expected


def test_word_default_deletes_both_apostrophe_forms():
    seq = TextSequencer(level="word").fit(["Don't", "don\u2019t", "DONT"])

    assert list(seq.vocabulary_)[3:] == ["dont"]
    assert seq.vocabulary_["dont"] == 3


def test_word_kept_punctuation_is_its_own_token_and_detokenises():
    seq = TextSequencer(level="word", strip_punctuation=False).fit([PUNCT_DOC])

    for mark in ",?!.();:[]{}":
        assert mark in seq.vocabulary_
    assert "wait," not in seq.vocabulary_
    assert seq.inverse_transform(seq.transform([PUNCT_DOC])) == [PUNCT_DOC]
    assert seq.inverse_transform(seq.transform(["Yes , no !"])) == ["yes, no!"]


def test_word_kept_punctuation_treats_typographic_apostrophe_like_ascii():
    # The default recipe deletes both "'" and "\u2019"; with punctuation
    # kept, "don\u2019t" must stay one word just as "don't" does.
    seq = TextSequencer(level="word", strip_punctuation=False).fit(
        ["don't stop", "don\u2019t stop"]
    )

    assert "don\u2019t" in seq.vocabulary_
    assert len(seq.transform(["don\u2019t"])[0]) == 1
    assert seq.inverse_transform(seq.transform(["Don\u2019t stop"])) == [
        "don\u2019t stop"
    ]


def test_word_prompt_is_normalised_like_training_text():
    seq = TextSequencer(level="word").fit(WORD_CORPUS)
    the, cat = seq.vocabulary_["the"], seq.vocabulary_["cat"]

    out = seq.transform(["THE CAT!!!", "  the\tcat 42 ", "the cat"])

    _assert_same_sequences(out, [np.array([the, cat], dtype=np.int32)] * 3)


def test_word_unknown_words_map_to_oov_and_decode_to_unk():
    seq = TextSequencer(level="word").fit(WORD_CORPUS)

    ids = seq.transform(["The zebra sat"])

    _assert_same_sequences(ids, [np.array([3, 1, 5], dtype=np.int32)])
    assert seq.inverse_transform(ids) == ["the <unk> sat"]


# --------------------------------------------------- vocabulary size limits
@pytest.mark.parametrize(
    "max_words, kept",
    [
        (4, ["x"]),
        (5, ["x", "y"]),
        (6, ["x", "y", "z"]),  # z ties with w but appears first
        (7, ["x", "y", "z", "w"]),
        (100, ["x", "y", "z", "w"]),
        (None, ["x", "y", "z", "w"]),
    ],
)
def test_max_words_caps_total_vocabulary_size(max_words, kept):
    seq = TextSequencer(level="word", max_words=max_words).fit(FREQ_CORPUS)

    assert list(seq.vocabulary_) == ["<pad>", "<unk>", "<eod>", *kept]
    assert seq.vocab_size_ == 3 + len(kept)
    if max_words is not None:
        assert seq.vocab_size_ <= max_words


def test_max_words_dropped_tokens_become_oov():
    seq = TextSequencer(level="word", max_words=5).fit(FREQ_CORPUS)

    _assert_same_sequences(
        seq.transform(["x y z w"]), [np.array([3, 4, 1, 1], dtype=np.int32)]
    )


@pytest.mark.parametrize(
    "min_frequency, kept",
    [(1, ["x", "y", "z", "w"]), (2, ["x", "y"]), (3, ["x"])],
)
def test_min_frequency_drops_rare_tokens(min_frequency, kept):
    seq = TextSequencer(level="word", min_frequency=min_frequency).fit(FREQ_CORPUS)

    assert list(seq.vocabulary_)[3:] == kept


def test_min_frequency_and_max_words_combine():
    seq = TextSequencer(level="word", min_frequency=2, max_words=4).fit(FREQ_CORPUS)

    assert list(seq.vocabulary_)[3:] == ["x"]


def test_min_frequency_above_every_count_raises():
    seq = TextSequencer(level="word", min_frequency=4)

    msg = (
        "TextSequencer.fit kept no tokens: min_frequency=4 is above every "
        "token count (highest 3)."
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        seq.fit(FREQ_CORPUS)


# ------------------------------------------------------------------ maxlen
@pytest.mark.parametrize("padding", ["pre", "post"])
@pytest.mark.parametrize("truncating", ["pre", "post"])
def test_maxlen_matches_keras_pad_sequences(padding, truncating):
    import keras

    docs = ["", "ab", "abcde", "abcdeabcd", "edcbaedcbaZ"]
    whole = TextSequencer().fit(docs).transform(docs)
    seq = TextSequencer(maxlen=5, padding=padding, truncating=truncating)

    out = seq.fit(docs).transform(docs)

    expected = keras.utils.pad_sequences(
        whole, maxlen=5, padding=padding, truncating=truncating
    )
    assert isinstance(out, np.ndarray)
    assert out.dtype == np.int32
    assert out.shape == (5, 5)
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize(
    "padding, truncating, expected",
    [
        ("pre", "pre", [[0, 3, 4], [5, 6, 7]]),
        ("post", "pre", [[3, 4, 0], [5, 6, 7]]),
        ("pre", "post", [[0, 3, 4], [3, 4, 5]]),
        ("post", "post", [[3, 4, 0], [3, 4, 5]]),
    ],
)
def test_maxlen_padding_and_truncating_sides(padding, truncating, expected):
    # ids: a=3, b=4, c=5, d=6, e=7
    seq = TextSequencer(maxlen=3, padding=padding, truncating=truncating)
    seq.fit(["aaaaa", "bbbb", "ccc", "dd", "e"])

    out = seq.transform(["ab", "abcde"])

    np.testing.assert_array_equal(out, np.array(expected, dtype=np.int32))


def test_maxlen_output_decodes_without_padding():
    seq = TextSequencer(maxlen=8).fit(CHAR_CORPUS)

    assert seq.inverse_transform(seq.transform(["ab", "bab"])) == ["ab", "bab"]


# ----------------------------------------------------- scikit-learn contract
def test_fit_returns_self_and_accepts_y():
    seq = TextSequencer()

    assert seq.fit(CHAR_CORPUS) is seq
    assert seq.fit(CHAR_CORPUS, y=[0, 1]) is seq


def test_fit_does_not_change_parameters():
    seq = TextSequencer(level="word", max_words=10)
    before = seq.get_params()

    seq.fit(WORD_CORPUS)

    assert seq.get_params() == before
    assert seq.lowercase is None


def test_refit_replaces_the_vocabulary():
    seq = TextSequencer().fit(["xyz"])

    seq.fit(CHAR_CORPUS)

    assert seq.vocabulary_ == CHAR_VOCABULARY


def test_clone_is_unfitted_with_same_params():
    seq = TextSequencer(level="word", max_words=10, maxlen=4, padding="post")
    seq.fit(WORD_CORPUS)

    cloned = clone(seq)

    assert cloned is not seq
    assert cloned.get_params() == seq.get_params()
    assert not hasattr(cloned, "vocabulary_")


def test_get_params_set_params_round_trip():
    params = {
        "level": "word",
        "lowercase": False,
        "strip_punctuation": False,
        "strip_digits": True,
        "max_words": 50,
        "min_frequency": 2,
        "maxlen": 7,
        "padding": "post",
        "truncating": "post",
        "handle_unknown": "error",
        "vocab_size": None,
        "input": "filename",
        "encoding": "latin-1",
        "decode_error": "replace",
    }
    seq = TextSequencer()

    assert seq.set_params(**params) is seq
    assert seq.get_params() == params
    assert TextSequencer(**seq.get_params()).get_params() == params


@pytest.mark.parametrize("maxlen", [None, 6])
@pytest.mark.parametrize(
    "duplicate",
    [lambda s: pickle.loads(pickle.dumps(s)), copy.deepcopy],
    ids=["pickle", "deepcopy"],
)
def test_pickle_and_deepcopy_preserve_fitted_state(duplicate, maxlen):
    seq = TextSequencer(level="word", maxlen=maxlen).fit(WORD_CORPUS)
    docs = ["the cat and the zebra", "dogs did sit"]

    twin = duplicate(seq)

    assert twin.vocabulary_ == seq.vocabulary_
    assert twin.vocab_size_ == seq.vocab_size_
    ids, twin_ids = seq.transform(docs), twin.transform(docs)
    if maxlen is None:
        _assert_same_sequences(twin_ids, ids)
    else:
        np.testing.assert_array_equal(twin_ids, ids)
    assert twin.inverse_transform(ids) == seq.inverse_transform(ids)


@pytest.mark.parametrize(
    "level, corpus", [("char", CHAR_CORPUS), ("word", WORD_CORPUS)]
)
def test_fitted_state_is_plain_data_that_restores_the_vocabulary(level, corpus):
    seq = TextSequencer(level=level, max_words=8).fit(corpus)
    docs = ["the cat and the zebra", "Abba dogs"]

    state = json.loads(json.dumps(seq.__sklstm_get_state__()))  # plain data
    twin = TextSequencer(**seq.get_params()).__sklstm_set_state__(state)

    assert state == {"tokens": list(seq.vocabulary_)}
    assert twin.vocabulary_ == seq.vocabulary_
    assert twin.vocab_size_ == seq.vocab_size_ == 8
    _assert_same_sequences(twin.transform(docs), seq.transform(docs))
    ids = seq.transform(docs)
    assert twin.inverse_transform(ids) == seq.inverse_transform(ids)
    with pytest.raises(NotFittedError):
        TextSequencer().__sklstm_get_state__()


@pytest.mark.parametrize("method", ["transform", "inverse_transform"])
def test_not_fitted_error_before_fit(method):
    seq = TextSequencer()
    arg = ["ab"] if method == "transform" else [[3, 4]]

    with pytest.raises(NotFittedError, match="This TextSequencer instance is not"):
        getattr(seq, method)(arg)


@pytest.mark.parametrize("maxlen", [None, 4])
def test_fit_transform_equals_fit_then_transform(maxlen):
    expected = TextSequencer(level="word", maxlen=maxlen).fit(WORD_CORPUS)
    expected = expected.transform(WORD_CORPUS)

    out = TextSequencer(level="word", maxlen=maxlen).fit_transform(WORD_CORPUS)

    if maxlen is None:
        _assert_same_sequences(out, expected)
    else:
        np.testing.assert_array_equal(out, expected)


def test_fit_transform_reads_a_generator_once():
    # A one-shot iterable must give the same ids as the list it yields.
    expected = TextSequencer().fit(CHAR_CORPUS).transform(CHAR_CORPUS)

    out = TextSequencer().fit_transform(doc for doc in CHAR_CORPUS)

    _assert_same_sequences(out, expected)


@pytest.mark.parametrize(
    "make_input",
    [
        list,
        tuple,
        lambda docs: (d for d in docs),
        iter,
        lambda docs: np.array(docs, dtype=object),
        np.array,  # a numpy str_ array
    ],
    ids=["list", "tuple", "generator", "iterator", "object-array", "str-array"],
)
def test_accepts_any_iterable_of_str(make_input):
    reference = TextSequencer(level="word").fit(WORD_CORPUS)

    seq = TextSequencer(level="word").fit(make_input(WORD_CORPUS))

    assert seq.vocabulary_ == reference.vocabulary_
    assert all(type(tok) is str for tok in seq.vocabulary_)
    _assert_same_sequences(
        seq.transform(make_input(WORD_CORPUS)), reference.transform(WORD_CORPUS)
    )


def _strip_docs(docs):
    return [doc.strip() for doc in docs]


def test_works_inside_a_pipeline():
    pipe = Pipeline(
        [
            ("clean", FunctionTransformer(_strip_docs)),
            ("seq", TextSequencer(level="word", maxlen=4)),
            ("flip", FunctionTransformer(np.fliplr, inverse_func=np.fliplr)),
        ]
    )
    docs = ["  the cat sat  ", "the dog"]
    reference = TextSequencer(level="word", maxlen=4).fit(_strip_docs(docs))

    out = pipe.fit_transform(docs)

    np.testing.assert_array_equal(
        out, np.fliplr(reference.transform(_strip_docs(docs)))
    )
    assert pipe.inverse_transform(out) == ["the cat sat", "the dog"]

    pipe.set_params(seq__maxlen=2)
    assert pipe.fit_transform(docs).shape == (2, 2)
    assert clone(pipe).get_params()["seq__maxlen"] == 2


# --------------------------------------------------------------- bad input
@pytest.mark.parametrize("method", ["fit", "transform", "fit_transform"])
@pytest.mark.parametrize("bare", ["some text", b"some bytes"])
def test_bare_string_is_refused(method, bare):
    seq = TextSequencer().fit(CHAR_CORPUS) if method == "transform" else TextSequencer()
    where = "fit" if method == "fit_transform" else method

    msg = (
        f"TextSequencer.{where} expects an iterable of str documents (for "
        f"example a list of strings); got a single {type(bare).__name__} "
        "instead. Wrap it in a list: [text]."
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        getattr(seq, method)(bare)


@pytest.mark.parametrize("method", ["fit", "transform"])
def test_non_iterable_is_refused(method):
    seq = TextSequencer().fit(CHAR_CORPUS)

    msg = f"TextSequencer.{method} expects an iterable of str documents; got int"
    with pytest.raises(TypeError, match=re.escape(msg)):
        getattr(seq, method)(3)


@pytest.mark.parametrize(
    "item, shown",
    [
        (None, "None (NoneType)"),
        (b"ab", "b'ab' (bytes)"),
        (3, "3 (int)"),
        (float("nan"), "nan (float)"),
    ],
)
@pytest.mark.parametrize("method", ["fit", "transform"])
def test_non_str_document_is_refused_with_its_index(method, item, shown):
    seq = TextSequencer().fit(CHAR_CORPUS)

    msg = (
        f"TextSequencer.{method} expects every document to be a str; got 1 "
        f"non-str item(s): index 1: {shown}."
    )
    with pytest.raises(TypeError, match=re.escape(msg)):
        getattr(seq, method)(["ab", item, "ba"])


def test_many_non_str_documents_are_summarised():
    docs = ["ok", *range(7)]

    msg = (
        "got 7 non-str item(s): index 1: 0 (int), index 2: 1 (int), index 3: "
        "2 (int), index 4: 3 (int), index 5: 4 (int) and 2 more."
    )
    with pytest.raises(TypeError, match=re.escape(msg)):
        TextSequencer().fit(docs)


@pytest.mark.parametrize(
    "level, docs",
    [
        ("char", []),
        ("char", ["", ""]),
        ("word", []),
        ("word", ["   ", "\n\t "]),
        ("word", ["!!! ...", "42 - 7"]),  # nothing left after normalisation
    ],
)
def test_corpus_without_tokens_is_refused(level, docs):
    msg = (
        f"TextSequencer.fit found no tokens in {len(docs)} document(s): they "
        "are empty, or empty after normalisation "
        f"(level={level!r}). Pass documents that contain text."
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        TextSequencer(level=level).fit(docs)


def test_whitespace_is_text_at_char_level():
    seq = TextSequencer().fit(["  ", "\n"])

    assert list(seq.vocabulary_)[3:] == [" ", "\n"]


@pytest.mark.parametrize(
    "param, value, expected",
    [
        ("level", "byte", "one of 'char', 'word', 'subword'"),
        ("level", None, "one of 'char', 'word', 'subword'"),
        ("lowercase", "yes", "a bool or None"),
        ("strip_punctuation", 1, "a bool or None"),
        ("strip_digits", "no", "a bool or None"),
        ("max_words", 2, "an int >= 4 or None"),
        ("max_words", 3, "an int >= 4 or None"),
        ("max_words", 10.0, "an int >= 4 or None"),
        ("max_words", True, "an int >= 4 or None"),
        ("min_frequency", 0, "an int >= 1"),
        ("min_frequency", None, "an int >= 1"),
        ("maxlen", 0, "an int >= 1 or None"),
        ("maxlen", "5", "an int >= 1 or None"),
        ("padding", "middle", "one of 'pre', 'post'"),
        ("truncating", "middle", "one of 'pre', 'post'"),
    ],
)
def test_invalid_parameter_is_refused_at_fit(param, value, expected):
    seq = TextSequencer(**{param: value})  # __init__ only stores

    msg = (
        f"The {param!r} parameter of TextSequencer must be {expected}. "
        f"Got {value!r} instead."
    )
    with pytest.raises(ValueError, match=f"^{re.escape(msg)}$"):
        seq.fit(CHAR_CORPUS)
    assert not hasattr(seq, "vocabulary_")


@pytest.mark.parametrize(
    "ids, msg",
    [
        (
            [[3, 8]],
            "inverse_transform expects token ids in [0, 8); sequence 0 holds [8].",
        ),
        (
            [[3], [4, -1, 99]],
            "inverse_transform expects token ids in [0, 8); sequence 1 holds [-1, 99].",
        ),
        (
            [[3, 3.5]],
            "inverse_transform expects integer token ids; sequence 0 has dtype "
            "float64 with values such as [3.0, 3.5].",
        ),
        (
            [[math.nan]],
            "inverse_transform expects integer token ids; sequence 0 has dtype "
            "float64 with values such as [nan].",
        ),
        (
            [["3"]],
            "inverse_transform expects integer token ids; sequence 0 has dtype "
            "<U1 with values such as ['3'].",
        ),
        (
            np.zeros((1, 2, 2), dtype=int),
            "inverse_transform expects a 2-D array of ids or a list of 1-D id "
            "sequences; got an array with shape (1, 2, 2).",
        ),
        (
            [[[3, 4]]],
            "inverse_transform expects each sequence to be 1-D; sequence 0 has "
            "shape (1, 2).",
        ),
    ],
)
def test_inverse_transform_refuses_bad_ids(ids, msg):
    seq = TextSequencer().fit(CHAR_CORPUS)

    with pytest.raises(ValueError, match=re.escape(msg)):
        seq.inverse_transform(ids)


def test_inverse_transform_refuses_huge_integral_floats_cleanly():
    # A float id far outside the vocabulary is out of range, reported as
    # given, without an overflow in the integer cast.
    seq = TextSequencer().fit(CHAR_CORPUS)

    msg = "inverse_transform expects token ids in [0, 8); sequence 0 holds [1e+20]."
    with pytest.raises(ValueError, match=re.escape(msg)):
        seq.inverse_transform([[3.0, 1e20]])


@pytest.mark.parametrize(
    "text, msg",
    [
        (["ab", "ba"], "inverse_transform expects integer id sequences; got text."),
        ([b"ab"], "inverse_transform expects integer id sequences; got text."),
        ("ab", "inverse_transform expects integer id sequences; got a single str."),
        (5, "inverse_transform expects a 2-D array of ids or a list of 1-D id "),
    ],
)
def test_inverse_transform_refuses_text_and_non_sequences(text, msg):
    seq = TextSequencer().fit(CHAR_CORPUS)

    with pytest.raises(TypeError, match=re.escape(msg)):
        seq.inverse_transform(text)


def test_errors_leave_the_fitted_sequencer_intact():
    seq = TextSequencer(level="word").fit(WORD_CORPUS)
    docs = ["the cat sat", "zebra"]
    ids = seq.transform(docs)
    vocabulary = dict(seq.vocabulary_)

    with pytest.raises(ValueError):
        seq.transform("the cat")
    with pytest.raises(TypeError):
        seq.transform(["the cat", None])
    with pytest.raises(ValueError):
        seq.inverse_transform([[3, 999]])
    with pytest.raises(TypeError):
        seq.inverse_transform(["the cat"])
    with pytest.raises(ValueError):
        seq.fit([])
    with pytest.raises(ValueError):
        seq.fit(["!!!"])
    with pytest.raises(TypeError):
        seq.fit(["fine", 3])

    assert seq.vocabulary_ == vocabulary
    assert seq.vocab_size_ == len(vocabulary)
    _assert_same_sequences(seq.transform(docs), ids)
    assert seq.inverse_transform(ids) == ["the cat sat", "<unk>"]


# -------------------------------------------------------------- properties
_CHAR_SEQ = TextSequencer().fit(["Hello, World!\n\tcafé 42 \u2603"])
_CHAR_ALPHABET = [tok for tok, i in _CHAR_SEQ.vocabulary_.items() if i >= 3]


@PROPERTY_SETTINGS
@given(st.text(alphabet=st.sampled_from(_CHAR_ALPHABET)))
def test_property_char_round_trip_on_vocabulary_text(text):
    ids = _CHAR_SEQ.transform([text])

    assert 1 not in ids[0]
    assert _CHAR_SEQ.inverse_transform(ids)[0] == text


@PROPERTY_SETTINGS
@given(st.text())
def test_property_char_decode_replaces_only_unseen_characters(text):
    expected = "".join(c if c in _CHAR_SEQ.vocabulary_ else "\ufffd" for c in text)

    assert _CHAR_SEQ.inverse_transform(_CHAR_SEQ.transform([text]))[0] == expected


_WORD_SEQ = TextSequencer(level="word").fit(WORD_CORPUS)
_WORD_PUNCT_SEQ = TextSequencer(level="word", strip_punctuation=False).fit(
    WORD_CORPUS + [PUNCT_DOC]
)
# Pieces that exercise case, digits, apostrophes and punctuation.
_WORD_PIECES = [
    "The",
    "CAT",
    "didn't",
    "Didn\u2019t",
    "dogs",
    "42",
    " ",
    "\n",
    ",",
    "!",
    "(",
    ")",
    "-",
]


@PROPERTY_SETTINGS
@given(
    st.lists(
        st.one_of(st.sampled_from(_WORD_PIECES), st.text(max_size=6)), max_size=12
    ).map("".join)
)
def test_property_word_normalisation_is_idempotent(text):
    ids = _WORD_SEQ.transform([text])

    decoded = _WORD_SEQ.inverse_transform(ids)

    _assert_same_sequences(_WORD_SEQ.transform(decoded), ids)


@PROPERTY_SETTINGS
@given(
    st.lists(
        st.sampled_from(
            [tok for tok, i in _WORD_PUNCT_SEQ.vocabulary_.items() if i >= 3]
        ),
        max_size=12,
    )
)
def test_property_word_kept_punctuation_round_trips_tokens(tokens):
    ids = _WORD_PUNCT_SEQ.transform([" ".join(tokens)])

    assert [int(i) for i in ids[0]] == [_WORD_PUNCT_SEQ.vocabulary_[t] for t in tokens]
    decoded = _WORD_PUNCT_SEQ.inverse_transform(ids)
    _assert_same_sequences(_WORD_PUNCT_SEQ.transform(decoded), ids)


def test_handle_unknown_error_refuses_unseen_tokens_and_keeps_working():
    seq = TextSequencer(level="word", handle_unknown="error").fit(["the cat sat"])
    with pytest.raises(
        ValueError,
        match=r"2 token\(s\) are not in the vocabulary, such as \['dog', 'ran'\]; "
        r"handle_unknown='error' refuses them",
    ):
        seq.transform(["the dog ran"])
    assert [list(r) for r in seq.transform(["the cat"])] == [[3, 4]]
    lenient = TextSequencer(level="word").fit(["the cat sat"])
    assert list(lenient.transform(["the dog"])[0]) == [3, 1]
