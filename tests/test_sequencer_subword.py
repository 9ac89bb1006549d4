"""TextSequencer(level="subword"): its vocabulary and exact round trips."""

import copy
import hashlib
import json
import os
import pickle
import re
import subprocess
import sys

import joblib
import numpy as np
import pytest
from corpora import SUBWORD
from corpora import SUBWORD_DOCS as DOCS
from hypothesis import given, settings
from hypothesis import strategies as st

import sklstm
from sklstm import TextSequencer

# Hypothesis must not write a .hypothesis/ folder into the checkout, and
# timing is not part of the contract.
PROPERTY_SETTINGS = settings(max_examples=200, deadline=None, database=None)

# Pieces that are hard to round-trip: the reserved tokens' own spelling,
# characters cut into several byte tokens, combining marks, whitespace runs.
_HARD_PIECES = [
    "<eod>",
    "<pad>",
    "<unk>",
    "\U0001f431",
    "\U0001f333\u200d",
    "e\u0301",
    "\u0301",
    "\u00e9",
    " ",
    "  ",
    "\n",
    "\r\n",
    "\t",
    "\x00",
    "the",
    " cat",
    "'s",
    "\ufffd",
    "\u4e2d\u6587",
]


def _decode_all(seq, ids):
    return seq.inverse_transform([ids])[0]


@pytest.fixture(scope="module")
def seq():
    return TextSequencer(**SUBWORD).fit(DOCS)


# ---------------------------------------------------------------- vocabulary
def test_reserved_ids_then_bytes_then_merges():
    from tokenizers.pre_tokenizers import ByteLevel

    seq = TextSequencer(**SUBWORD).fit(DOCS)

    assert seq._tokens[:3] == ["<pad>", "<unk>", "<eod>"]
    assert [seq.vocabulary_[t] for t in ("<pad>", "<unk>", "<eod>")] == [0, 1, 2]
    assert set(seq._tokens[3:259]) == set(ByteLevel.alphabet())
    assert seq.vocab_size_ == len(seq.vocabulary_) == len(seq._tokens) == 300
    assert seq.vocabulary_ == {tok: i for i, tok in enumerate(seq._tokens)}
    assert "Ġthe" in seq.vocabulary_  # " the", as byte-level BPE writes it
    tokenizer = seq._subword_tokenizer()
    assert [tokenizer.token_to_id(t) for t in ("<pad>", "<unk>", "<eod>")] == [0, 1, 2]


def test_default_vocab_size_is_1000():
    docs = sklstm.load_python_docs()[:40]

    seq = TextSequencer(level="subword").fit(docs)

    assert seq.vocab_size is None
    assert seq.vocab_size_ == 1000


def test_tiny_corpus_gives_a_smaller_vocabulary():
    seq = TextSequencer(level="subword", vocab_size=5000).fit(["abab", "ba"])

    assert 259 < seq.vocab_size_ < 5000
    assert seq.inverse_transform(seq.transform(["abba!"])) == ["abba!"]


def test_min_frequency_is_the_fewest_occurrences_of_a_merged_pair():
    docs = ["ab ab ab cd"]

    every_pair = TextSequencer(level="subword").fit(docs)
    frequent = TextSequencer(level="subword", min_frequency=3).fit(docs)
    none = TextSequencer(level="subword", min_frequency=4).fit(docs)

    assert {"ab", "cd"} <= set(every_pair._tokens[259:])
    assert frequent._tokens[259:] == ["ab"]
    assert none.vocab_size_ == 259  # bytes are always kept
    assert none.inverse_transform(none.transform(docs)) == docs


def test_same_documents_give_the_same_vocabulary():
    a = TextSequencer(**SUBWORD).fit(DOCS)
    b = TextSequencer(**SUBWORD).fit(list(DOCS))

    assert a._tokens == b._tokens
    assert a._tokenizer_json == b._tokenizer_json


def test_same_documents_give_the_same_vocabulary_in_other_processes(seq):
    code = (
        "import hashlib, json, sys\n"
        "from sklstm import TextSequencer\n"
        "docs = json.loads(sys.stdin.read())\n"
        "seq = TextSequencer(level='subword', vocab_size=300).fit(docs)\n"
        "print(hashlib.sha256(seq._tokenizer_json.encode()).hexdigest())\n"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", code],
            input=json.dumps(DOCS),
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
        ).stdout.strip()
        for seed in (1, 2)
    }

    assert digests == {hashlib.sha256(seq._tokenizer_json.encode()).hexdigest()}


def test_normalisation_is_off_by_default_and_opt_in():
    plain = TextSequencer(level="subword").fit(["Hi, 2 you!"])
    normalised = TextSequencer(
        level="subword", lowercase=True, strip_punctuation=True, strip_digits=True
    ).fit(["Hi, 2 you!"])

    assert plain.inverse_transform(plain.transform(["Hi, 2 YOU!"])) == ["Hi, 2 YOU!"]
    assert normalised.inverse_transform(normalised.transform(["Hi, 2 YOU!"])) == [
        "hi   you "
    ]


def test_corpus_without_text_is_refused():
    msg = (
        "TextSequencer.fit found no tokens in 2 document(s): they are empty, or "
        "empty after normalisation (level='subword'). Pass documents that "
        "contain text."
    )
    with pytest.raises(ValueError, match=f"^{re.escape(msg)}$"):
        TextSequencer(level="subword").fit(["", ""])
    with pytest.raises(ValueError, match=re.escape("found no tokens in 1")):
        TextSequencer(level="subword", strip_digits=True).fit(["42"])


@pytest.mark.parametrize(
    "params, msg",
    [
        (
            {"level": "word", "vocab_size": 500},
            "The 'vocab_size' parameter of TextSequencer sizes subword "
            "vocabularies only; got vocab_size=500 with level='word'. Use "
            "max_words to cap a word vocabulary, and leave vocab_size=None.",
        ),
        (
            {"vocab_size": 500},
            "The 'vocab_size' parameter of TextSequencer sizes subword "
            "vocabularies only; got vocab_size=500 with level='char'. Use "
            "max_words to cap a char vocabulary, and leave vocab_size=None.",
        ),
        (
            {"level": "subword", "max_words": 100},
            "The 'max_words' parameter of TextSequencer sizes char and word "
            "vocabularies only; got max_words=100 with level='subword'. Use "
            "vocab_size to size a subword vocabulary, and leave max_words=None.",
        ),
        *(
            (
                {"level": "subword", "vocab_size": value},
                "The 'vocab_size' parameter of TextSequencer must be an int >= "
                "259 (the 3 reserved ids and 256 byte tokens) or None. Got "
                f"{value!r} instead.",
            )
            for value in (258, 0, -1, 1000.0, True, "1000")
        ),
        (
            {"level": "bpe"},
            "The 'level' parameter of TextSequencer must be one of 'char', "
            "'word', 'subword'. Got 'bpe' instead.",
        ),
    ],
)
def test_invalid_sizes_are_refused_at_fit(params, msg):
    seq = TextSequencer(**params)

    with pytest.raises(ValueError, match=f"^{re.escape(msg)}$"):
        seq.fit(DOCS)
    assert not hasattr(seq, "vocabulary_")


def test_numpy_vocab_size_and_string_arrays_are_accepted():
    seq = TextSequencer(level="subword", vocab_size=np.int64(300))

    seq.fit(np.array(DOCS))

    assert seq.vocab_size_ == 300
    assert seq.inverse_transform(seq.transform(np.array(DOCS[:1]))) == DOCS[:1]


def test_missing_tokenizers_package_says_how_to_install_it(seq, monkeypatch):
    fitted = pickle.loads(pickle.dumps(seq))  # its tokenizer not yet rebuilt
    monkeypatch.setitem(sys.modules, "tokenizers", None)  # import now fails
    msg = 'pip install "sklstm[subword]"'

    with pytest.raises(ImportError, match=re.escape(msg)):
        TextSequencer(level="subword").fit(DOCS)
    with pytest.raises(ImportError, match=re.escape(msg)):
        fitted.transform(DOCS)
    ids = seq.transform(DOCS)
    assert fitted.inverse_transform(ids) == DOCS  # decoding needs no package
    TextSequencer().fit(DOCS)  # char and word level never import it


def test_lone_surrogates_are_refused_with_their_place(seq):
    msg = (
        "TextSequencer expects valid Unicode text at level='subword'; document 1 "
        "holds the lone surrogate '\\udc80' at position 2."
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        seq.transform(["fine", "ab\udc80cd"])
    with pytest.raises(ValueError, match="TextSequencer.fit expects valid Unicode"):
        TextSequencer(level="subword").fit(["\ud800"])


def test_refit_at_another_level_drops_the_subword_state():
    seq = TextSequencer(**SUBWORD).fit(DOCS)

    seq.set_params(level="char", vocab_size=None).fit(["abc"])

    assert not hasattr(seq, "_tokenizer_json")
    assert seq.vocab_size_ == 6
    assert seq.inverse_transform(seq.transform(["cab"])) == ["cab"]


# ----------------------------------------------------------------- round trip
def test_round_trip_is_exact_on_the_training_text(seq):
    ids = seq.transform(DOCS)

    assert seq.inverse_transform(ids) == DOCS
    assert sum(map(len, ids)) < sum(map(len, DOCS))  # merges were used


def test_reserved_spellings_in_text_are_just_text(seq):
    text = "a <eod> b <pad><unk>"

    ids = seq.transform([text])[0]

    assert not set(ids.tolist()) & {0, 1, 2}
    assert _decode_all(seq, ids) == text


def test_nothing_is_unknown_at_subword_level():
    strict = TextSequencer(level="subword", handle_unknown="error").fit(DOCS)
    unseen = "\u4e2d\u6587 \U0001f680 \x07"

    ids = strict.transform([unseen])[0]

    assert 1 not in ids  # out-of-vocabulary
    assert _decode_all(strict, ids) == unseen


@PROPERTY_SETTINGS
@given(st.text())
def test_property_any_text_round_trips_exactly(seq, text):
    ids = seq.transform([text])[0]

    assert ids.dtype == np.int32
    assert not set(ids.tolist()) & {0, 1, 2}
    assert _decode_all(seq, ids) == text
    assert seq._subword_tokenizer().decode(ids.tolist()) == text


@PROPERTY_SETTINGS
@given(st.lists(st.one_of(st.sampled_from(_HARD_PIECES), st.text()), max_size=10))
def test_property_hard_pieces_round_trip_exactly(seq, pieces):
    text = "".join(pieces)

    assert seq.inverse_transform(seq.transform([text])) == [text]


@PROPERTY_SETTINGS
@given(st.lists(st.integers(0, 10**6), max_size=40))
def test_property_any_ids_decode_and_prefixes_decode_to_prefixes(seq, draws):
    ids = [i % seq.vocab_size_ for i in draws]
    text = _decode_all(seq, ids)

    assert isinstance(text, str)
    for end in range(len(ids)):
        assert text.startswith(_decode_all(seq, ids[:end]))


def test_ids_that_cut_a_character_decode_to_the_text_so_far(seq):
    from sklstm.sequencer import _BYTE_OF_CHAR

    char_of_byte = {b: c for c, b in _BYTE_OF_CHAR.items()}
    # One id per byte: 4 for each rocket.
    ids = [seq.vocabulary_[char_of_byte[b]] for b in "\U0001f680\U0001f680".encode()]
    assert _decode_all(seq, ids) == "\U0001f680\U0001f680"

    texts = [_decode_all(seq, ids[:end]) for end in range(9)]

    assert texts == [""] * 4 + ["\U0001f680"] * 4 + ["\U0001f680" * 2]
    # Invalid bytes in the middle become U+FFFD; reserved ids are dropped.
    middle = [ids[0], 2, ids[0], *ids[:4], 0]
    assert _decode_all(seq, middle) == "\ufffd\ufffd\U0001f680"
    assert _decode_all(seq, [1]) == "\ufffd"


@pytest.mark.parametrize("padding", ["pre", "post"])
def test_maxlen_pads_subword_ids(padding):
    seq = TextSequencer(**SUBWORD, maxlen=64, padding=padding).fit(DOCS)

    out = seq.transform(["the cat", "the mat and the log"])

    assert out.shape == (2, 64) and out.dtype == np.int32
    assert seq.inverse_transform(out) == ["the cat", "the mat and the log"]


@pytest.mark.parametrize(
    "duplicate",
    [
        lambda s: pickle.loads(pickle.dumps(s)),
        copy.deepcopy,
        lambda s: joblib.load(_dump(s)),
    ],
    ids=["pickle", "deepcopy", "joblib"],
)
def test_duplicates_keep_the_fitted_vocabulary(duplicate):
    seq = TextSequencer(**SUBWORD).fit(DOCS)
    seq.transform(["warm"])  # the tokenizer object exists now

    twin = duplicate(seq)

    assert "_tokenizer" not in seq.__getstate__()  # stored as its JSON text
    assert twin.vocabulary_ == seq.vocabulary_
    assert twin._tokenizer_json == seq._tokenizer_json
    for a, b in zip(twin.transform(DOCS), seq.transform(DOCS), strict=True):
        np.testing.assert_array_equal(a, b)
    assert twin.inverse_transform(seq.transform(DOCS)) == DOCS


def _dump(obj):
    import io

    buffer = io.BytesIO()
    joblib.dump(obj, buffer)
    buffer.seek(0)
    return buffer
