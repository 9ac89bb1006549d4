"""Hyper-parameter search on a dask cluster, through joblib's dask backend."""

import faulthandler
import os
import sys

import joblib
import numpy as np
import pytest
from corpora import SENTENCES, SMALL
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

import sklstm
from sklstm import neg_bits_per_character_scorer

distributed = pytest.importorskip("distributed")

# Two searches, each once on the cluster and once sequentially, plus the
# workers' start (each imports TensorFlow): about 45 s on 2 shared CPU cores.
pytestmark = pytest.mark.slow

# A stalled cluster must not hang CI: past this, the test process prints
# every thread's traceback and exits.
HANG_TIMEOUT_S = 600

DOCS = SENTENCES

GRIDS = {
    "generator": {"learning_rate": [0.002, 0.01]},
    "pipeline": {"seq__level": ["char", "word"]},
}


def tiny():
    return sklstm.LSTMTextGenerator(**SMALL)


def make_search(kind):
    if kind == "generator":
        estimator = tiny()
    else:
        estimator = Pipeline([("seq", sklstm.TextSequencer()), ("lm", tiny())])
    return GridSearchCV(
        estimator, GRIDS[kind], cv=2, scoring=score_and_pid(), refit="score"
    )


def score_and_pid():
    """Scoring that also records the id of the process each fit was scored in.

    A local function, so that it is pickled by value: the dask workers
    cannot import this test module.
    """

    def scoring(estimator, X, y=None):
        return {
            "score": neg_bits_per_character_scorer(estimator, X),
            "pid": os.getpid(),
        }

    return scoring


def fit_pids(search):
    results = search.cv_results_
    return {
        int(p) for i in range(search.n_splits_) for p in results[f"split{i}_test_pid"]
    }


@pytest.fixture(scope="module")
def client():
    faulthandler.dump_traceback_later(HANG_TIMEOUT_S, exit=True, file=sys.__stderr__)
    try:
        with (
            distributed.LocalCluster(
                n_workers=2,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                env={"TF_CPP_MIN_LOG_LEVEL": "2"},
            ) as cluster,
            distributed.Client(cluster, timeout="60s") as client,
        ):
            yield client
    finally:
        faulthandler.cancel_dump_traceback_later()


@pytest.mark.parametrize("kind", ["generator", "pipeline"])
def test_grid_search_on_dask_workers_matches_sequential_search(client, kind):
    worker_pids = set(client.run(os.getpid).values())
    assert len(worker_pids) == 2 and os.getpid() not in worker_pids
    assert set(client.run(os.getenv, "TF_CPP_MIN_LOG_LEVEL").values()) == {"2"}

    with joblib.parallel_backend("dask"):
        on_dask = make_search(kind).fit(DOCS)
    sequential = make_search(kind).fit(DOCS)

    # Every fit was trained and scored in a dask worker process, not here.
    assert fit_pids(on_dask) <= worker_pids
    assert fit_pids(sequential) == {os.getpid()}

    grid = [{name: value} for name, values in GRIDS[kind].items() for value in values]
    assert on_dask.best_params_ in grid
    assert on_dask.cv_results_["params"] == sequential.cv_results_["params"] == grid
    # Seeded fits: measured identical on CPU; the tolerance allows for
    # thread-count effects in TensorFlow's reductions.
    np.testing.assert_allclose(
        on_dask.cv_results_["mean_test_score"],
        sequential.cv_results_["mean_test_score"],
        rtol=1e-6,
    )
    assert on_dask.best_params_ == sequential.best_params_

    text = sklstm.generate(
        on_dask, "the ", min_new_tokens=5, max_new_tokens=5, random_state=0
    )
    assert isinstance(text, str) and text
    assert text == sklstm.generate(
        sequential, "the ", min_new_tokens=5, max_new_tokens=5, random_state=0
    )
