"""Data-parallel training through tf.distribute (distribution_strategy),
on one machine."""

import json
import pickle

import joblib
import numpy as np
import pytest
import tensorflow as tf
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

import sklstm
from sklstm import LSTMTextGenerator, _distribute, bits_per_character

DOCS = [
    "the cat sat on the mat. the dog sat on the log. " * 3,
    "a bird sang in the tree while the cat slept. " * 3,
    "the dog ran to the river and the bird flew. " * 3,
]
PARAMS = dict(
    units=16,
    embedding_dim=8,
    sequence_length=16,
    batch_size=8,
    epochs=2,
    validation_fraction=0.34,
    random_state=0,
)
SAME = dict(max_new_tokens=20, random_state=0)


@pytest.fixture(scope="module")
def strategy():
    return tf.distribute.MirroredStrategy()  # all GPUs, or the CPU


@pytest.fixture(scope="module")
def plain():
    return LSTMTextGenerator(**PARAMS).fit(DOCS)


@pytest.fixture(scope="module")
def mirrored(strategy):
    return LSTMTextGenerator(**PARAMS, distribution_strategy=strategy).fit(DOCS)


# ------------------------------------------------------------------ validation
@pytest.mark.parametrize(
    "value, error, match",
    [
        ("mirror", ValueError, r"'mirrored', 'multi_worker_mirrored'\. Got 'mirror'"),
        (2, TypeError, r"must be None, a tf\.distribute\.Strategy instance .*Got 2"),
        (tf.distribute, TypeError, "Got <module"),
    ],
)
def test_distribution_strategy_is_validated(value, error, match):
    model = LSTMTextGenerator(**PARAMS, distribution_strategy=value)
    with pytest.raises(error, match=match):
        model.fit(DOCS)
    assert not hasattr(model, "model_")


def test_stateful_is_refused_under_a_strategy(strategy):
    model = LSTMTextGenerator(**PARAMS, stateful=True, distribution_strategy=strategy)
    with pytest.raises(ValueError, match="cannot carry LSTM states.*stateful=False"):
        model.fit(DOCS)


def test_stateful_auto_chooses_false_under_a_strategy(strategy):
    # Documents of 20 windows each: without a strategy "auto" carries states.
    docs = ["the cat sat on the mat. " * 14] * 2
    assert min(len(d) for d in docs) >= 20 * 16
    model = LSTMTextGenerator(
        **{**PARAMS, "epochs": 1, "validation_fraction": 0},
        stateful="auto",
        distribution_strategy=strategy,
    ).fit(docs)
    assert model.stateful_ is False


def test_max_time_and_random_state_are_refused_across_machines(strategy, monkeypatch):
    monkeypatch.setattr(_distribute, "n_workers", lambda s: 2)
    timed = LSTMTextGenerator(**PARAMS, max_time=5, distribution_strategy=strategy)
    with pytest.raises(ValueError, match="max_time cannot limit training across 2"):
        timed.fit(DOCS)
    unseeded = LSTMTextGenerator(
        **{**PARAMS, "random_state": None}, distribution_strategy=strategy
    )
    with pytest.raises(ValueError, match="needs an int random_state across 2"):
        unseeded.fit(DOCS)
    # One machine: max_time is fine (training stops after the first batch).
    monkeypatch.undo()
    timed.set_params(max_time=1e-9).fit(DOCS)
    assert timed.n_epochs_ == 1


def test_a_name_that_cannot_be_created_says_how_to_fix_it(monkeypatch):
    monkeypatch.setattr(_distribute, "_CREATED", {})
    cluster = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    tf_config = {"cluster": cluster, "task": {"type": "worker", "index": 0}}
    monkeypatch.setenv("TF_CONFIG", json.dumps(tf_config))
    tf.zeros(1).numpy()  # TensorFlow has run: too late for collective ops
    model = LSTMTextGenerator(**PARAMS, distribution_strategy="multi_worker_mirrored")
    with pytest.raises(RuntimeError, match="first thing in the script"):
        model.fit(DOCS)


# --------------------------------------------------------------- one machine
def test_one_device_strategy_trains_the_same_network(plain, mirrored, strategy):
    variable = mirrored.model_.get_layer("logits").kernel.value
    assert isinstance(variable, tf.distribute.DistributedValues)
    assert mirrored.model_.distribute_strategy is strategy
    if strategy.num_replicas_in_sync == 1:  # on a machine without GPUs
        for key, values in plain.history_.items():
            np.testing.assert_allclose(mirrored.history_[key], values, rtol=1e-4)
        assert mirrored.score(DOCS) == pytest.approx(plain.score(DOCS), rel=1e-4)


def test_generates_and_scores_outside_the_scope(mirrored):
    assert not tf.distribute.has_strategy()
    text = mirrored.generate("the ", **SAME)
    assert isinstance(text, str) and len(text) <= 20
    assert mirrored.generate("the ", **SAME) == text
    assert np.isfinite(mirrored.score(DOCS))
    assert bits_per_character(mirrored, DOCS) > 0


def test_joblib_and_pickle_keep_the_model_but_not_the_strategy(mirrored, tmp_path):
    path = tmp_path / "model.joblib"
    joblib.dump(mirrored, path)
    loaded = joblib.load(path)
    assert mirrored.distribution_strategy is not None  # the original keeps it
    assert loaded.distribution_strategy is None
    assert loaded.score(DOCS) == pytest.approx(mirrored.score(DOCS), rel=1e-6)
    assert loaded.generate("the ", **SAME) == mirrored.generate("the ", **SAME)
    unfitted = pickle.loads(pickle.dumps(clone(mirrored)))
    assert unfitted.distribution_strategy is None


def test_save_and_load(mirrored, tmp_path):
    path = tmp_path / "model.sklstm"
    mirrored.save(path)
    loaded = sklstm.load(path)
    assert loaded.get_params()["distribution_strategy"] is None
    assert loaded.score(DOCS) == pytest.approx(mirrored.score(DOCS), rel=1e-6)
    assert loaded.generate("the ", **SAME) == mirrored.generate("the ", **SAME)


def test_a_name_is_created_once_saved_and_reused(tmp_path):
    model = LSTMTextGenerator(
        **{**PARAMS, "epochs": 1}, distribution_strategy="mirrored"
    ).fit(DOCS)
    created = _distribute.get_strategy("mirrored")
    assert isinstance(created, tf.distribute.MirroredStrategy)
    assert model.model_.distribute_strategy is created
    model.partial_fit(DOCS)  # the same strategy: training continues
    assert model.n_epochs_ == 2
    path = tmp_path / "model.sklstm"
    model.save(path)
    assert sklstm.load(path).distribution_strategy == "mirrored"
    assert pickle.loads(pickle.dumps(model)).distribution_strategy == "mirrored"


def test_warm_start_under_another_strategy_is_refused(mirrored, tmp_path):
    path = tmp_path / "model.sklstm"
    mirrored.save(path)
    loaded = sklstm.load(path)  # built without a strategy
    loaded.set_params(
        warm_start=True, distribution_strategy=mirrored.distribution_strategy
    )
    with pytest.raises(
        ValueError,
        match="built under no distribution strategy, but distribution_strategy "
        "asks for a MirroredStrategy",
    ):
        loaded.fit(DOCS)
    assert loaded.n_epochs_ == mirrored.n_epochs_  # left as it was
    loaded.set_params(distribution_strategy=None).fit(DOCS)  # on one device
    assert loaded.n_epochs_ == mirrored.n_epochs_ + PARAMS["epochs"]


def test_clone_and_params_share_the_instance(strategy):
    model = LSTMTextGenerator(distribution_strategy=strategy, units=8)
    assert model.get_params()["distribution_strategy"] is strategy
    twin = clone(model)
    assert twin.distribution_strategy is strategy
    assert twin.get_params()["units"] == 8
    named = clone(model.set_params(distribution_strategy="mirrored"))
    assert named.get_params()["distribution_strategy"] == "mirrored"
    assert model.set_params(distribution_strategy=None).distribution_strategy is None


def test_grid_search(strategy):
    search = GridSearchCV(
        LSTMTextGenerator(
            **{**PARAMS, "epochs": 1, "validation_fraction": 0},
            distribution_strategy=strategy,
        ),
        {"learning_rate": [0.01]},
        cv=2,
    ).fit(DOCS)
    best = search.best_estimator_
    assert best.distribution_strategy is strategy
    assert best.model_.distribute_strategy is strategy
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
