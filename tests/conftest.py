"""Fitted models shared by the test modules, each trained once per session
(or once per module that uses it, where the fixture says so).

Every fixture here is read only: a test that changes a fitted model (its
parameters, weights or fitted attributes) works on its own copy, for example
``copy.deepcopy(tiny_model)``, so that no test depends on another's order.
"""

import joblib
import pytest
from corpora import PROVERBS, SAYINGS, SENTENCES, SMALL, TINY
from sklearn.pipeline import make_pipeline

from sklstm import LSTMTextGenerator, TextSequencer


@pytest.fixture(scope="session")
def tiny_model():
    """A char model, TINY settings, fitted on SENTENCES."""
    return LSTMTextGenerator(**TINY).fit(SENTENCES)


@pytest.fixture(scope="session")
def tiny_word_pipeline():
    """TextSequencer(level="word") -> LSTMTextGenerator(TINY), on SENTENCES."""
    return make_pipeline(TextSequencer(level="word"), LSTMTextGenerator(**TINY)).fit(
        SENTENCES
    )


@pytest.fixture(scope="session")
def served_model():
    """A char model, SMALL settings, fitted on PROVERBS: what the server serves."""
    return LSTMTextGenerator(**SMALL).fit(PROVERBS)


@pytest.fixture(scope="session")
def served_files(served_model, tmp_path_factory):
    """A folder holding served_model as tiny.sklstm and tiny.joblib."""
    folder = tmp_path_factory.mktemp("served")
    served_model.save(folder / "tiny.sklstm")
    joblib.dump(served_model, folder / "tiny.joblib")
    return folder


@pytest.fixture(scope="session")
def saved(served_files):
    """served_files, under the name of the serving tests."""
    return served_files


@pytest.fixture(scope="session")
def gen():
    """Two LSTM layers and a Dense layer, on SAYINGS: what the generation and
    sampling tests generate with."""
    return LSTMTextGenerator(
        embedding_dim=8,
        units=(24, 16),
        dense_units=12,
        sequence_length=16,
        epochs=2,
        validation_fraction=0,
        random_state=0,
    ).fit(SAYINGS)
