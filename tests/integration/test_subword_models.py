"""Models built on the subword level: generation, scores, joblib, the safe
format and its tokenizers, pipelines and searches."""

import json
import math
import zipfile

import joblib
import numpy as np
import pytest
from corpora import SMALL, SUBWORD
from corpora import SUBWORD_DOCS as DOCS
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

import sklstm
from sklstm import (
    LSTMTextGenerator,
    TextSequencer,
    bits_per_character,
    neg_bits_per_character_scorer,
)


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
