"""Model selection: searches in parallel processes, cross-validation, scorer."""

import numpy as np
import pytest
from corpora import SENTENCES as DOCS
from helpers import tiny_generator as tiny
from scipy.stats import randint
from sklearn.model_selection import (
    GridSearchCV,
    KFold,
    RandomizedSearchCV,
    cross_val_score,
)
from sklearn.pipeline import make_pipeline

from sklstm import TextSequencer, neg_bits_per_character_scorer


@pytest.mark.parametrize("search_kind", ["grid", "random"])
def test_parallel_search_matches_serial_scores(search_kind):
    cv = KFold(2, shuffle=True, random_state=0)
    if search_kind == "grid":
        make = lambda n_jobs: GridSearchCV(  # noqa: E731
            tiny(),
            {"sequencer__level": ["char", "word"], "units": [8]},
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
