"""Subword level: TextSequencer(level="subword") and models built on it."""

import copy
import hashlib
import json
import math
import os
import pickle
import re
import subprocess
import sys
import zipfile

import joblib
import numpy as np
import pytest
from corpora import SMALL
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

import sklstm
from sklstm import (
    LSTMTextGenerator,
    TextSequencer,
    bits_per_character,
    neg_bits_per_character_scorer,
)

# Accents written both precomposed and with combining marks, emoji (four
# UTF-8 bytes each), tabs, newlines and runs of spaces.
DOCS = [
    "the cat sat on the mat. the dog sat on the log.\n" * 3,
    "a bird sang in the tree while the cat slept \U0001f431\U0001f431.\n" * 3,
    "caf\u00e9, cafe\u0301 and na\u00efve\tthings \u2603  cost 42 \u20ac.\n" * 3,
    "the tree, the log and the mat: \U0001f333 \U0001f431 \u2603\n" * 3,
]
SUBWORD = dict(level="subword", vocab_size=300)

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


# --------------------------------------------------------------------- model
@pytest.fixture(scope="module")
def model():
    return LSTMTextGenerator(sequencer=TextSequencer(**SUBWORD), **SMALL).fit(DOCS)


def test_model_uses_the_subword_vocabulary(model):
    assert model.vocab_size_ == model.sequencer_.vocab_size_ == 300
    assert model.predict(["the c"])[0] in model.sequencer_.vocabulary_
    assert np.isfinite(model.score(DOCS))


@pytest.mark.parametrize(
    "controls",
    [
        {},
        {"temperature": 0},
        {"temperature": [2.0, 0.5, 1.0]},
        {"top_k": 5},
        {"top_p": 0.9},
        {"repetition_penalty": 1.5},
        {"min_new_tokens": 20},
        {"stop": ["t", "\U0001f431"]},
        {"stop_at_eod": False},
        {"num_return_sequences": 2},
        {
            "temperature": 0.8,
            "top_k": 50,
            "top_p": 0.95,
            "repetition_penalty": 1.2,
            "min_new_tokens": 5,
            "stop": "\n",
        },
    ],
    ids=lambda c: "-".join(c) or "defaults",
)
def test_generate_with_every_control(model, controls):
    kwargs = dict(max_new_tokens=30, random_state=3, **controls)

    out = model.generate(["the c", "caf\u00e9 "], **kwargs)

    n = controls.get("num_return_sequences", 1)
    assert isinstance(out, list) and len(out) == 2 * n
    assert all(isinstance(text, str) for text in out)
    assert out == model.generate(["the c", "caf\u00e9 "], **kwargs)
    for stop in np.atleast_1d(controls.get("stop", [])):
        assert all(stop not in text for text in out)


def test_generate_zero_tokens_and_empty_prompt(model):
    assert model.generate("the", max_new_tokens=0) == ""
    assert isinstance(model.generate("", max_new_tokens=10, random_state=0), str)


@pytest.mark.parametrize(
    "controls",
    [
        {"temperature": 2.0},  # often samples single bytes: cut characters
        {"temperature": 1.0, "top_k": 40},
        {"temperature": 0},
        {"temperature": 2.0, "stop": ["\U0001f431", "at"]},
        {"temperature": 1.5, "stop_at_eod": False, "min_new_tokens": 10},
    ],
    ids=["hot", "top-k", "greedy", "stop", "no-eod"],
)
@pytest.mark.parametrize("seed", [0, 1])
def test_stream_pieces_join_to_generate(model, controls, seed):
    kwargs = dict(max_new_tokens=60, random_state=seed, **controls)

    pieces = list(model.stream("the ", **kwargs))

    assert "".join(pieces) == model.generate("the ", **kwargs)


def test_stream_joins_to_generate_when_pieces_cut_characters():
    # Without merges, each of these characters is three byte tokens, and the
    # stream's chunks of tokens end inside characters.
    docs = ["\u20ac" * 200, "\u2603" * 200] * 2
    sequencer = TextSequencer(level="subword", vocab_size=259)
    model = LSTMTextGenerator(
        sequencer=sequencer, **{**SMALL, "epochs": 3, "learning_rate": 0.05}
    ).fit(docs)
    assert model.vocab_size_ == 259
    made = ""
    for controls in ({"temperature": 0.5}, {"temperature": 1.0}, {"stop": "\u2603"}):
        for seed in (0, 1):
            kwargs = dict(max_new_tokens=60, random_state=seed, **controls)
            text = model.generate("\u20ac", **kwargs)
            assert "".join(model.stream("\u20ac", **kwargs)) == text
            made += text
    assert set(made) - {"\ufffd"}  # whole characters were generated


def test_bits_per_character_is_the_code_length_of_the_text(model):
    # Each document's ids are read after end-of-document and must predict
    # themselves and then end-of-document; summed, in bits, per character.
    docs = ["caf\u00e9 \U0001f431!", "the mat"]
    bits = 0.0
    for doc in docs:
        ids = model.sequencer_.transform([doc])[0].tolist()
        contexts = [np.array(ids[:end], dtype=np.int32) for end in range(len(ids) + 1)]
        proba = model.predict_proba(contexts).astype(np.float64)
        proba /= proba.sum(axis=1, keepdims=True)
        targets = [*ids, 2]
        bits -= np.log2(proba[np.arange(len(targets)), targets]).sum()
    n_chars = sum(len(doc) + 1 for doc in docs)  # + end-of-document

    n_tokens = sum(len(ids) + 1 for ids in model.sequencer_.transform(docs))
    assert n_tokens != n_chars  # so per token and per character differ
    assert bits_per_character(model, docs) == pytest.approx(bits / n_chars, rel=1e-4)


def test_joblib_round_trip_gives_identical_outputs(model, tmp_path):
    joblib.dump(model, tmp_path / "model.joblib")
    loaded = joblib.load(tmp_path / "model.joblib")

    assert loaded.sequencer_._tokenizer_json == model.sequencer_._tokenizer_json
    np.testing.assert_array_equal(loaded.predict_proba(DOCS), model.predict_proba(DOCS))
    for seed in (0, 1):
        assert loaded.generate("the ", max_new_tokens=20, random_state=seed) == (
            model.generate("the ", max_new_tokens=20, random_state=seed)
        )


def test_fitted_state_holds_the_tokenizer_as_json_text(model):
    seq = model.sequencer_
    state = json.loads(json.dumps(seq.__sklstm_get_state__()))  # plain data

    twin = TextSequencer(**seq.get_params()).__sklstm_set_state__(state)

    assert set(state) == {"tokens", "tokenizer"}
    assert json.loads(state["tokenizer"])["model"]["type"] == "BPE"
    assert twin.vocabulary_ == seq.vocabulary_
    ids = seq.transform(DOCS)
    assert [list(t) for t in twin.transform(DOCS)] == [list(i) for i in ids]
    assert twin.inverse_transform(ids) == DOCS
    with pytest.raises(ValueError, match="a subword sequencer needs its tokenizer"):
        TextSequencer(**seq.get_params()).__sklstm_set_state__(
            {"tokens": state["tokens"]}
        )


# ---------------------------------------------------------------- safe format
@pytest.fixture(scope="module")
def saved(model, tmp_path_factory):
    path = tmp_path_factory.mktemp("saved") / "subword.sklstm"
    model.save(path)
    return path


def _meta(path):
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("sklstm.json"))


def test_save_load_round_trip_gives_identical_outputs(model, saved):
    loaded = sklstm.load(saved)

    assert loaded.sequencer.get_params() == model.sequencer.get_params()
    assert loaded.sequencer_.vocabulary_ == model.sequencer_.vocabulary_
    assert loaded.sequencer_._tokenizer_json == model.sequencer_._tokenizer_json
    np.testing.assert_array_equal(loaded.predict_proba(DOCS), model.predict_proba(DOCS))
    for seed in (0, 1):
        kwargs = dict(max_new_tokens=25, temperature=1.5, random_state=seed)
        assert loaded.generate("caf", **kwargs) == model.generate("caf", **kwargs)
    assert loaded.sequencer_.inverse_transform(model.sequencer_.transform(DOCS)) == (
        DOCS
    )


def test_saved_file_holds_the_tokenizer_as_json(saved):
    meta = _meta(saved)

    assert meta["format_version"] == 3
    assert meta["sequencer"]["params"]["vocab_size"] == 300
    tokenizer = json.loads(meta["sequencer"]["tokenizer"])
    assert tokenizer["model"]["type"] == "BPE"
    assert tokenizer["added_tokens"] == []
    # Merges as "a b" text, readable by every supported tokenizers release.
    assert all(len(m.split(" ")) == 2 for m in tokenizer["model"]["merges"])
    assert len(meta["sequencer"]["tokens"]) == 300


def test_files_of_format_version_1_still_load(served_model, tmp_path):
    char = served_model  # a char model
    char.save(tmp_path / "char.sklstm")

    def as_version_1(meta):
        # Version 1 had no subword level: no vocab_size, no tokenizer.
        del meta["sequencer"]["params"]["vocab_size"]
        return {**meta, "format_version": 1}

    loaded = sklstm.load(_rewrite(tmp_path / "char.sklstm", tmp_path, as_version_1))

    assert loaded.sequencer_.get_params() == char.sequencer_.get_params()
    assert loaded.generate("the", max_new_tokens=10, random_state=0) == (
        char.generate("the", max_new_tokens=10, random_state=0)
    )


def _rewrite(saved, tmp_path, change):
    """Copy of ``saved`` with its sklstm.json changed by ``change``."""
    path = tmp_path / "edited.sklstm"
    with zipfile.ZipFile(saved) as src, zipfile.ZipFile(path, "w") as dst:
        dst.writestr("sklstm.json", json.dumps(change(_meta(saved))))
        dst.writestr("model.keras", src.read("model.keras"))
    return path


def _edit_tokenizer(edit):
    def change(meta):
        data = json.loads(meta["sequencer"]["tokenizer"])
        meta["sequencer"]["tokenizer"] = json.dumps(edit(data))
        return meta

    return change


def _set(data, *path_and_value):
    *path, key, value = path_and_value
    node = data
    for step in path:
        node = node[step]
    node[key] = value
    return data


def _swap_two_ids(data):
    vocab = data["model"]["vocab"]
    a, b = list(vocab)[300 - 2 :]
    vocab[a], vocab[b] = vocab[b], vocab[a]
    return data


@pytest.mark.parametrize(
    "change, reason",
    [
        (lambda m: _set(m, "sequencer", "tokenizer", "{not json"), "not valid JSON"),
        (lambda m: _set(m, "sequencer", "tokenizer", None), "needs its tokenizer"),
        (lambda m: _set(m, "sequencer", "tokenizer", 7), "must be stored as JSON"),
        (_edit_tokenizer(lambda d: [d]), "must be a JSON object"),
        (
            _edit_tokenizer(lambda d: _set(d, "normalizer", {"type": "NFC"})),
            'normalizer = null; it has {"type": "NFC"}',
        ),
        (
            _edit_tokenizer(lambda d: _set(d, "model", "dropout", 0.5)),
            "model.dropout = null",
        ),
        (
            _edit_tokenizer(lambda d: _set(d, "pre_tokenizer", None)),
            'pre_tokenizer.type = "ByteLevel"',
        ),
        (
            _edit_tokenizer(
                lambda d: _set(d, "added_tokens", [{"id": 2, "content": "<eod>"}])
            ),
            "added_tokens = []",
        ),
        (
            _edit_tokenizer(lambda d: _set(d, "model", "vocab", "x")),
            "vocabulary is not token -> id",
        ),
        (
            _edit_tokenizer(lambda d: _set(d, "model", "vocab", "<pad>", 299)),
            "ids are not 0 to 299, each once",
        ),
        (_edit_tokenizer(_swap_two_ids), "300 tokens and its subword tokenizer"),
        (
            _edit_tokenizer(lambda d: _set(d, "model", "merges", 5)),
            "cannot read the subword tokenizer",
        ),
        (
            lambda m: _set(m, "sequencer", "tokens", m["sequencer"]["tokens"][:-1]),
            "299 tokens and its subword tokenizer's 300 disagree",
        ),
    ],
    ids=[
        "not-json",
        "missing",
        "not-text",
        "not-object",
        "normalizer",
        "dropout",
        "pre-tokenizer",
        "added-tokens",
        "vocab-type",
        "ids",
        "tokens-order",
        "merges",
        "tokens-list",
    ],
)
def test_damaged_tokenizers_are_refused_clearly(saved, tmp_path, change, reason):
    path = _rewrite(saved, tmp_path, change)

    with pytest.raises(ValueError, match="is not a readable sklstm model file") as e:
        sklstm.load(path)
    assert reason in str(e.value)


# -------------------------------------------------------------- composition
def test_pipeline_of_subword_sequencer_and_generator():
    pipe = make_pipeline(TextSequencer(**SUBWORD), LSTMTextGenerator(**SMALL))

    pipe.fit(DOCS)

    assert pipe[-1].sequencer_ is None  # fitted on the sequencer's ids
    assert pipe[-1].vocab_size_ <= 300
    kwargs = dict(max_new_tokens=40, temperature=2.0, random_state=0)
    text = sklstm.generate(pipe, "the ", **kwargs)
    assert isinstance(text, str)
    assert "".join(sklstm.stream(pipe, "the ", **kwargs)) == text
    assert np.isfinite(bits_per_character(pipe, DOCS))


def test_generator_parameters_reach_the_subword_level():
    gen = LSTMTextGenerator(**SMALL).set_params(
        sequencer__level="subword", sequencer__vocab_size=280
    )

    gen.fit(DOCS)

    assert gen.sequencer_.level == "subword"
    assert gen.vocab_size_ == 280


def test_grid_search_chooses_among_levels_by_bits_per_character():
    search = GridSearchCV(
        LSTMTextGenerator(**SMALL),
        {"sequencer__level": ["char", "word", "subword"]},
        scoring=neg_bits_per_character_scorer,
        cv=2,
    ).fit(DOCS)

    scores = search.cv_results_["mean_test_score"]
    assert np.all(np.isfinite(scores)) and np.all(scores < 0)
    assert search.best_params_["sequencer__level"] in ("char", "word", "subword")
    assert (
        search.best_estimator_.sequencer_.level
        == (search.best_params_["sequencer__level"])
    )
    assert isinstance(sklstm.generate(search, "the", max_new_tokens=5), str)
    assert not math.isnan(search.best_score_)
