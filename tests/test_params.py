"""The parameters of LSTMTextGenerator: what the checks refuse and accept."""

import numpy as np
import pytest
from corpora import ANIMALS as DOCS
from corpora import PATTERNS as CORPUS
from corpora import SMALL_SHORT as TINY
from helpers import quick_generator as tiny

from sklstm import LSTMTextGenerator


@pytest.mark.parametrize(
    "params, error, message",
    [
        (
            {"units": 0},
            ValueError,
            "The 'units' parameter of LSTMTextGenerator must be an int >= 1 or a "
            "non-empty tuple of ints >= 1. Got 0 instead.",
        ),
        (
            {"units": ()},
            ValueError,
            r"The 'units' parameter of LSTMTextGenerator must be .* Got \(\) instead.",
        ),
        (
            {"units": (16, 0)},
            ValueError,
            r"The 'units' parameter of LSTMTextGenerator must be .* "
            r"Got \(16, 0\) instead.",
        ),
        (
            {"dropout": 1.0},
            ValueError,
            "The 'dropout' parameter of LSTMTextGenerator must be a float >= 0 and "
            "< 1, or 'auto'. Got 1.0 instead.",
        ),
        (
            {"epochs": 0},
            ValueError,
            "The 'epochs' parameter of LSTMTextGenerator must be an int >= 1 or "
            "None. Got 0 instead.",
        ),
        (
            {"epochs": None},
            ValueError,
            "LSTMTextGenerator needs a limit on training: epochs=None trains "
            "until max_time runs out, but max_time is None too.",
        ),
        (
            {"max_time": 0},
            ValueError,
            "The 'max_time' parameter of LSTMTextGenerator must be a float > 0 "
            "or None. Got 0 instead.",
        ),
        (
            {"learning_rate_schedule": "linear"},
            ValueError,
            "The 'learning_rate_schedule' parameter of LSTMTextGenerator must be "
            "one of 'cosine', 'constant'. Got 'linear' instead.",
        ),
        (
            {"stateful": 1},
            ValueError,
            "The 'stateful' parameter of LSTMTextGenerator must be a bool or "
            "'auto'. Got 1 instead.",
        ),
        (
            {"learning_rate": 0},
            ValueError,
            "The 'learning_rate' parameter of LSTMTextGenerator must be a "
            r"float > 0. Got 0(\.0)? instead.",
        ),
        (
            {"validation_fraction": 1.0},
            ValueError,
            "The 'validation_fraction' parameter of LSTMTextGenerator must be a "
            "float >= 0 and < 1. Got 1.0 instead.",
        ),
        (
            {"sequencer": "char"},
            TypeError,
            "The 'sequencer' parameter of LSTMTextGenerator must be a "
            "TextSequencer or None. Got 'char' instead.",
        ),
    ],
)
def test_fit_validates_parameters(params, error, message):
    gen = LSTMTextGenerator(**dict(TINY, **params))
    with pytest.raises(error, match=message):
        gen.fit(CORPUS[:10])
    assert not hasattr(gen, "model_")


def test_numpy_typed_parameters_as_searches_draw_them():
    model = tiny(
        units=np.int64(8),
        embedding_dim=np.int64(4),
        sequence_length=np.int64(6),
        batch_size=np.int64(4),
        epochs=np.int64(2),
        dropout=np.float32(0.1),
        learning_rate=np.float64(0.01),
    ).fit(DOCS)
    assert model.n_epochs_ == 2
    assert isinstance(model.generate("the ", max_new_tokens=np.int64(5)), str)
