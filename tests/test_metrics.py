"""bits_per_character and its scorer."""

import math

import pytest
from corpora import SENTENCES as DOCS
from helpers import tiny_generator as tiny

from sklstm import bits_per_character, neg_bits_per_character_scorer


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
