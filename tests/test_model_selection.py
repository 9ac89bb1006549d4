"""Model selection: searches in parallel processes, cross-validation, scorer."""

import math

import numpy as np
import pytest
from corpora import SENTENCES, TINY
from scipy.stats import randint
from sklearn.model_selection import (
    GridSearchCV,
    KFold,
    RandomizedSearchCV,
    cross_val_score,
)
from sklearn.pipeline import make_pipeline

from sklstm import (
    LSTMTextGenerator,
    TextSequencer,
    bits_per_character,
    neg_bits_per_character_scorer,
)

DOCS = SENTENCES


def tiny(**params):
    return LSTMTextGenerator(**{**TINY, **params})


def test_bits_per_character_matches_score_samples(tiny_model):
    model = tiny_model
    expected = -model.score_samples(DOCS).sum() / sum(len(d) + 1 for d in DOCS)
    assert bits_per_character(model, DOCS) == pytest.approx(expected / math.log(2))
    assert neg_bits_per_character_scorer(model, DOCS) == -bits_per_character(
        model, DOCS
    )


def test_bits_per_character_errors(tiny_model):
    model = tiny_model
    with pytest.raises(ValueError, match="bits_per_character needs at least one"):
        bits_per_character(model, [])
    with pytest.raises(ValueError, match="got a single str"):
        bits_per_character(model, "the cat")


def test_bits_per_character_improves_with_training(tiny_model):
    short = bits_per_character(tiny_model, DOCS)  # one epoch
    longer = bits_per_character(
        tiny(epochs=15, units=16, learning_rate=0.01).fit(DOCS), DOCS
    )
    assert longer < short


@pytest.mark.parametrize("search_kind", ["grid", "random"])
def test_parallel_search_matches_serial_scores(search_kind):
    cv = KFold(2, shuffle=True, random_state=0)
    if search_kind == "grid":
        make = lambda n_jobs: GridSearchCV(  # noqa: E731
            tiny(),
            {"sequencer__level": ["char", "word"], "units": [4, 8]},
            cv=cv,
            scoring=neg_bits_per_character_scorer,
            n_jobs=n_jobs,
        )
    else:
        make = lambda n_jobs: RandomizedSearchCV(  # noqa: E731
            tiny(),
            {"units": randint(4, 12), "learning_rate": [0.002, 0.01]},
            n_iter=2,
            cv=cv,
            scoring=neg_bits_per_character_scorer,
            n_jobs=n_jobs,
            random_state=0,
        )
    serial = make(1).fit(DOCS)
    parallel = make(2).fit(DOCS)
    assert serial.cv_results_["params"] == parallel.cv_results_["params"]
    np.testing.assert_allclose(
        parallel.cv_results_["mean_test_score"],
        serial.cv_results_["mean_test_score"],
        rtol=1e-6,
    )
    assert serial.best_params_ == parallel.best_params_
    assert np.all(np.isfinite(serial.cv_results_["mean_test_score"]))


def test_scorer_chooses_between_tokenisation_levels_in_a_pipeline():
    search = GridSearchCV(
        make_pipeline(TextSequencer(), tiny(epochs=3, units=16)),
        {"textsequencer__level": ["char", "word"]},
        cv=2,
        scoring=neg_bits_per_character_scorer,
    ).fit(DOCS)
    scores = search.cv_results_["mean_test_score"]
    assert np.all(np.isfinite(scores)) and np.all(scores < 0)
    assert scores[0] != scores[1]
    best = search.cv_results_["params"][int(np.argmax(scores))]
    assert search.best_params_ == best


def test_cross_val_score_with_default_and_bpc_scoring():
    default = cross_val_score(tiny(), DOCS, cv=3)
    assert default.shape == (3,) and np.all(default < 0)  # log-likelihood per token
    bpc = cross_val_score(tiny(), DOCS, cv=3, scoring=neg_bits_per_character_scorer)
    assert bpc.shape == (3,) and np.all(bpc < 0)
