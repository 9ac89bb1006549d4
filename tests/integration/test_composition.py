"""Composition: Pipeline, GridSearchCV, clone, pickle and joblib.

Whatever way a model was fitted (a bare LSTMTextGenerator on raw text, a
TextSequencer -> LSTMTextGenerator pipeline, a search over either), a user
continues a *text* prompt and gets text back in one call:
``sklstm.generate(fitted, prompt, ...)``. These tests check that promise
holds after searching, cloning, pickling, and reloading in a fresh process.
"""

import copy
import json
import pickle

import joblib
import numpy as np
import pytest
from corpora import SMALL
from helpers import run_python
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.utils.validation import check_is_fitted

import sklstm
from sklstm import LSTMTextGenerator, TextSequencer

# Fourteen short documents; the longest has 11 words.
DOCS = [
    "the cat sat on the mat and looked at the dog.",
    "the dog sat on the log and looked at the cat.",
    "a bird flew over the house and sang a song.",
    "the fish swam in the pond under the old tree.",
    "my cat likes to sleep in the warm sun all day.",
    "the dog runs in the park with a red ball.",
    "a small bird sat on the branch of the tree.",
    "the old man read a book by the window.",
    "children play in the garden after school.",
    "the sun rises in the east and sets in the west.",
    "the cat and the dog are friends in the house.",
    "rain falls on the roof of the little house.",
    "the little dog sleeps by the warm fire at night.",
    "a bird and a cat sat in the sun.",
]
PROMPTS = ["the cat", "a bird flew over the"]
# Longer than every document in words, so a maxlen pipeline pads, never truncates.
MAXLEN = 16

# Tiny and seeded: one epoch on CPU, the same weights every run.
TINY = dict(SMALL, sequence_length=10)
N_NEW = 8
GEN = dict(max_new_tokens=N_NEW, random_state=0)


def _word_pipeline(**sequencer_params):
    return make_pipeline(
        TextSequencer(level="word", **sequencer_params), LSTMTextGenerator(**TINY)
    )


@pytest.fixture(scope="module")
def word_pipe():
    """TextSequencer(level="word") -> LSTMTextGenerator, fitted on raw docs."""
    return _word_pipeline().fit(DOCS)


@pytest.fixture(scope="module")
def char_gen():
    """A bare LSTMTextGenerator fitted on raw docs (default char sequencer)."""
    return LSTMTextGenerator(**TINY).fit(DOCS)


@pytest.fixture(scope="module")
def pipe_search():
    """A search over parameters of both pipeline steps (two candidates)."""
    grid = [
        {"textsequencer__level": ["char"], "lstmtextgenerator__units": [8]},
        {"textsequencer__level": ["word"], "lstmtextgenerator__units": [16]},
    ]
    pipe = make_pipeline(TextSequencer(), LSTMTextGenerator(**TINY))
    return GridSearchCV(pipe, grid, cv=2, n_jobs=1).fit(DOCS)


@pytest.fixture(scope="module")
def nested_search():
    """A search on a bare generator through its default sequencer's params."""
    grid = {"sequencer__level": ["char", "word"]}
    return GridSearchCV(
        LSTMTextGenerator(**TINY), grid, cv=KFold(n_splits=2), n_jobs=1
    ).fit(DOCS)


def _vocabulary_words(text, sequencer):
    """The words of ``text``, checked to be whole word-level tokens."""
    words = text.split(" ")
    unknown = [w for w in words if w not in sequencer.vocabulary_]
    assert not unknown, f"{text!r} holds tokens outside the vocabulary: {unknown}"
    return words


def _assert_same_model(original, reloaded, prompts=PROMPTS):
    """Same next-token probabilities and the same seeded text."""
    np.testing.assert_array_equal(
        reloaded.predict_proba(prompts), original.predict_proba(prompts)
    )
    for seed in (0, 1):
        kwargs = dict(max_new_tokens=N_NEW, random_state=seed)
        expected = sklstm.generate(original, prompts, **kwargs)
        assert sklstm.generate(reloaded, prompts, **kwargs) == expected


# ----------------------------------------------------------------- pipeline
def test_pipeline_fits_raw_documents_and_scores(word_pipe):
    score = word_pipe.score(DOCS)
    assert isinstance(score, float)
    assert np.isfinite(score)
    assert score < 0  # a mean log-likelihood per token
    # The pipeline scores exactly what its generator scores on the ids.
    ids = word_pipe[0].transform(DOCS)
    assert score == pytest.approx(word_pipe[-1].score(ids), rel=1e-12)
    # Not better than certainty, not worse than about uniform after one epoch.
    assert score > -2 * np.log(word_pipe[0].vocab_size_)


def test_generate_pipeline_continues_text_prompt_with_words(word_pipe):
    text = sklstm.generate(word_pipe, "the cat", **GEN)
    assert isinstance(text, str)
    words = _vocabulary_words(text, word_pipe[0])
    assert 0 < len(words) <= N_NEW
    # Word-level text: whole words, not characters glued together.
    assert any(len(w) > 1 for w in words)
    assert text == text.strip() and "  " not in text


def test_generate_pipeline_list_of_prompts_returns_list(word_pipe):
    texts = sklstm.generate(word_pipe, PROMPTS, **GEN)
    assert isinstance(texts, list)
    assert len(texts) == len(PROMPTS)
    for text in texts:
        assert isinstance(text, str)
        assert len(_vocabulary_words(text, word_pipe[0])) <= N_NEW
    # A tuple of prompts is a batch too.
    assert sklstm.generate(word_pipe, tuple(PROMPTS), **GEN) == texts
    # One prompt in a list is a batch of one, not a bare string.
    assert sklstm.generate(word_pipe, ["the cat"], **GEN) == [
        sklstm.generate(word_pipe, "the cat", **GEN)
    ]


def test_generate_pipeline_same_random_state_same_text(word_pipe):
    first = sklstm.generate(word_pipe, "the cat", **GEN)
    assert sklstm.generate(word_pipe, "the cat", **GEN) == first
    assert sklstm.generate(word_pipe, PROMPTS, **GEN) == sklstm.generate(
        word_pipe, PROMPTS, **GEN
    )
    # The seed matters: other seeds give other text.
    others = {
        sklstm.generate(word_pipe, "the cat", max_new_tokens=N_NEW, random_state=s)
        for s in (1, 2, 3)
    }
    assert others - {first}


@pytest.mark.parametrize("padding", ["pre", "post"])
def test_maxlen_pipeline_matches_pipeline_without_padding(word_pipe, padding):
    pipe = _word_pipeline(maxlen=MAXLEN, padding=padding).fit(DOCS)
    ids = pipe[0].transform(DOCS)
    assert isinstance(ids, np.ndarray)
    assert ids.shape == (len(DOCS), MAXLEN)
    assert (ids == 0).any(axis=1).all()  # every row padded, none truncated

    score = pipe.score(DOCS)
    assert isinstance(score, float) and np.isfinite(score) and score < 0
    text = sklstm.generate(pipe, "the cat", **GEN)
    assert isinstance(text, str)
    _vocabulary_words(text, pipe[0])
    texts = sklstm.generate(pipe, PROMPTS, **GEN)
    assert isinstance(texts, list) and len(texts) == len(PROMPTS)

    # Padding is not text: the model learns, scores and generates exactly as
    # the pipeline that passes whole documents.
    assert score == pytest.approx(word_pipe.score(DOCS), rel=1e-6)
    np.testing.assert_allclose(
        pipe.predict_proba(PROMPTS), word_pipe.predict_proba(PROMPTS), rtol=1e-5
    )
    assert texts == sklstm.generate(word_pipe, PROMPTS, **GEN)


def test_generate_pipeline_with_only_a_generator_step(char_gen):
    # A Pipeline "ending in" a text-fitted generator, with no earlier step:
    # the prompt goes to the generator's own sequencer.
    pipe = Pipeline([("gen", LSTMTextGenerator(**TINY))]).fit(DOCS)
    text = sklstm.generate(pipe, "the ", **GEN)
    assert isinstance(text, str)
    assert text == pipe[-1].generate("the ", **GEN)
    assert text == char_gen.generate("the ", **GEN)  # same data, same seed


def test_generate_bare_generator_fitted_on_text(char_gen):
    text = sklstm.generate(char_gen, "the ", **GEN)
    assert isinstance(text, str)
    assert len(text) <= N_NEW
    assert set(text) <= set(char_gen.sequencer_.vocabulary_)
    assert text == char_gen.generate("the ", **GEN)
    assert sklstm.generate(char_gen, PROMPTS, **GEN) == char_gen.generate(
        PROMPTS, **GEN
    )


def _assert_scores_finite(results):
    """Every split of every candidate of a 2-fold search has a finite score."""
    for key in ("split0_test_score", "split1_test_score", "mean_test_score"):
        assert np.isfinite(results[key]).all(), key


# ------------------------------------------------------------------- search
def test_grid_search_over_pipeline_params_of_both_steps(pipe_search):
    best = pipe_search.best_estimator_
    check_is_fitted(best)
    check_is_fitted(best[-1], "model_")
    params = pipe_search.best_params_
    assert best[0].level == params["textsequencer__level"]
    assert best[-1].units == params["lstmtextgenerator__units"]
    assert best[-1].model_.get_layer("lstm_0").units == best[-1].units

    results = pipe_search.cv_results_
    _assert_scores_finite(results)
    # Each candidate really ran with its own tokenisation and units.
    assert results["mean_test_score"][0] != results["mean_test_score"][1]

    text = sklstm.generate(pipe_search, "the cat", **GEN)
    assert isinstance(text, str)
    assert text == sklstm.generate(best, "the cat", **GEN)
    texts = sklstm.generate(pipe_search, PROMPTS, **GEN)
    assert isinstance(texts, list) and len(texts) == len(PROMPTS)


def test_grid_search_over_nested_sequencer_params_of_bare_generator(
    nested_search,
):
    best = nested_search.best_estimator_
    check_is_fitted(best, "model_")
    level = nested_search.best_params_["sequencer__level"]
    assert best.sequencer.level == level
    assert best.sequencer_.level == level
    # The search set the level on clones; the default instance stays None.
    assert nested_search.estimator.sequencer is None

    results = nested_search.cv_results_
    _assert_scores_finite(results)
    assert results["mean_test_score"][0] != results["mean_test_score"][1]

    text = sklstm.generate(nested_search, "the cat", **GEN)
    assert isinstance(text, str)
    assert text == best.generate("the cat", **GEN)


def test_nested_sequencer_search_matches_pipeline_search(pipe_search, nested_search):
    # Word level with 16 units, the same folds and seed: a TextSequencer step
    # and the generator's own sequencer__level give the same model.
    pipe_results = pipe_search.cv_results_
    nested_results = nested_search.cv_results_
    i = list(pipe_results["param_textsequencer__level"]).index("word")
    j = list(nested_results["param_sequencer__level"]).index("word")
    assert pipe_results["param_lstmtextgenerator__units"][i] == TINY["units"]
    for key in ("split0_test_score", "split1_test_score"):
        assert nested_results[key][j] == pytest.approx(pipe_results[key][i], rel=1e-5)


# -------------------------------------------------------------- persistence
def test_joblib_round_trip_generator(char_gen, tmp_path):
    path = tmp_path / "generator.joblib"
    joblib.dump(char_gen, path)
    reloaded = joblib.load(path)
    assert isinstance(reloaded, LSTMTextGenerator)
    assert reloaded.get_params() == char_gen.get_params()
    _assert_same_model(char_gen, reloaded)


def test_joblib_round_trip_pipeline(word_pipe, tmp_path):
    path = tmp_path / "pipeline.joblib"
    joblib.dump(word_pipe, path)
    reloaded = joblib.load(path)
    assert reloaded[0].vocabulary_ == word_pipe[0].vocabulary_
    _assert_same_model(word_pipe, reloaded)
    assert reloaded.score(DOCS) == pytest.approx(word_pipe.score(DOCS), rel=1e-12)


def test_joblib_round_trip_search_and_best_estimator(pipe_search, tmp_path):
    joblib.dump(pipe_search.best_estimator_, tmp_path / "best.joblib")
    best = joblib.load(tmp_path / "best.joblib")
    _assert_same_model(pipe_search.best_estimator_, best)

    joblib.dump(pipe_search, tmp_path / "search.joblib")
    search = joblib.load(tmp_path / "search.joblib")
    assert search.best_params_ == pipe_search.best_params_
    np.testing.assert_array_equal(
        search.cv_results_["mean_test_score"],
        pipe_search.cv_results_["mean_test_score"],
    )
    _assert_same_model(pipe_search, search)


def test_fresh_process_generates_same_text(word_pipe, tmp_path):
    path = tmp_path / "pipeline.joblib"
    joblib.dump(word_pipe, path)
    code = (
        "import json, sys\n"
        "import joblib\n"
        "import sklstm\n"
        "pipe = joblib.load(sys.argv[1])\n"
        f"text = sklstm.generate(pipe, {PROMPTS[0]!r}, max_new_tokens={N_NEW}, "
        "random_state=0)\n"
        f"proba = pipe.predict_proba({PROMPTS!r}).tolist()\n"
        "print(json.dumps({'text': text, 'proba': proba}))\n"
    )
    stdout = run_python("-c", code, path, cwd=tmp_path, timeout=300)
    out = json.loads(stdout.strip().splitlines()[-1])
    assert out["text"] == sklstm.generate(word_pipe, PROMPTS[0], **GEN)
    np.testing.assert_allclose(
        out["proba"], word_pipe.predict_proba(PROMPTS), rtol=1e-6, atol=1e-9
    )


@pytest.mark.parametrize("copier", ["pickle", "deepcopy"], ids=str)
def test_copy_after_generating_still_generates(char_gen, word_pipe, copier):
    copy_of = {
        "pickle": lambda obj: pickle.loads(pickle.dumps(obj)),
        "deepcopy": copy.deepcopy,
    }[copier]
    for fitted in (char_gen, word_pipe):
        before = sklstm.generate(fitted, PROMPTS, **GEN)  # compiles and caches
        twin = copy_of(fitted)
        assert sklstm.generate(twin, PROMPTS, **GEN) == before
        assert sklstm.generate(twin, PROMPTS, **GEN) == before  # cached again
        assert sklstm.generate(fitted, PROMPTS, **GEN) == before  # original too
        np.testing.assert_array_equal(
            twin.predict_proba(PROMPTS), fitted.predict_proba(PROMPTS)
        )


# ------------------------------------------------------------------- errors
_UNSUPPORTED = (
    r"generate expects a fitted LSTMTextGenerator, a Pipeline ending in one, or "
    r"a fitted search over either; got {}\."
)


@pytest.mark.parametrize(
    "estimator, name",
    [
        (LogisticRegression(), "LogisticRegression"),
        (make_pipeline(TextSequencer(), LogisticRegression()), "Pipeline"),
        (GridSearchCV(LSTMTextGenerator(), {"units": [8]}), "GridSearchCV"),
        ("not an estimator", "str"),
    ],
    ids=["classifier", "pipeline-of-classifier", "unfitted-search", "str"],
)
def test_generate_rejects_unsupported_estimators(estimator, name):
    with pytest.raises(TypeError, match=_UNSUPPORTED.format(name)):
        sklstm.generate(estimator, "the cat")


@pytest.mark.parametrize(
    "estimator",
    [
        make_pipeline(TextSequencer(level="word"), LSTMTextGenerator()),
        LSTMTextGenerator(),
    ],
    ids=["pipeline", "generator"],
)
def test_generate_rejects_unfitted_models(estimator):
    with pytest.raises(
        NotFittedError, match="This LSTMTextGenerator instance is not fitted yet"
    ):
        sklstm.generate(estimator, "the cat")


def test_generate_text_on_generator_fitted_on_ids_points_to_pipeline(word_pipe):
    match = (
        r"generate got text, but this LSTMTextGenerator was "
        r"fitted on token ids and has no sequencer\. .*"
        r"sklstm\.generate\(pipeline, prompt\)"
    )
    with pytest.raises(TypeError, match=match):
        sklstm.generate(word_pipe[-1], "the cat")


# -------------------------------------------------------------------- clone
def test_clone_of_fitted_generator_is_unfitted_with_same_params(char_gen):
    twin = clone(char_gen)
    assert twin.get_params(deep=False) == char_gen.get_params(deep=False)
    assert twin.get_params(deep=True) == char_gen.get_params(deep=True)
    for attribute in ("model_", "sequencer_", "vocab_size_", "history_"):
        assert not hasattr(twin, attribute), attribute
    with pytest.raises(NotFittedError):
        check_is_fitted(twin)
    with pytest.raises(NotFittedError):
        sklstm.generate(twin, "the ")
    check_is_fitted(char_gen, "model_")  # the original keeps its model


def test_clone_of_nested_search_winner_copies_its_sequencer(nested_search):
    best = nested_search.best_estimator_
    twin = clone(best)
    assert not hasattr(twin, "model_")
    assert twin.sequencer is not best.sequencer  # not shared
    assert twin.sequencer.get_params() == best.sequencer.get_params()
    assert (
        twin.get_params(deep=True)["sequencer__level"]
        == (nested_search.best_params_["sequencer__level"])
    )
