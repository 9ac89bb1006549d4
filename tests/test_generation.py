"""Generation controls, batching and streaming of LSTMTextGenerator."""

import numpy as np
import pytest
from corpora import SAYINGS as DOCS
from sklearn.pipeline import make_pipeline

import sklstm
from sklstm import LSTMTextGenerator, TextSequencer

# ``gen``, the model that most tests here generate with, is a fixture of
# conftest.py (fitted on SAYINGS once per module).


@pytest.fixture(scope="module")
def word_pipe():
    return make_pipeline(
        TextSequencer(level="word", strip_punctuation=False),
        LSTMTextGenerator(
            embedding_dim=8,
            units=16,
            sequence_length=8,
            epochs=2,
            validation_fraction=0,
            random_state=0,
        ),
    ).fit(DOCS)


def test_stream_pieces_join_to_generate(gen):
    kwargs = dict(max_new_tokens=60, temperature=0.8, top_k=10, random_state=3)
    pieces = list(gen.stream("the ", **kwargs))
    assert len(pieces) > 1
    assert "".join(pieces) == gen.generate("the ", **kwargs)


def test_stream_with_stop_string_equals_generate(gen):
    kwargs = dict(max_new_tokens=120, stop=["e "], random_state=5)
    text = gen.generate("th", **kwargs)
    assert "e " not in text
    assert "".join(gen.stream("th", **kwargs)) == text


def test_stop_string_cuts_the_text_where_it_first_appears(gen):
    free = gen.generate("a ", max_new_tokens=150, random_state=1)
    stop = next(s for s in ("e", "t", "o", " ") if s in free)
    cut = gen.generate("a ", max_new_tokens=150, stop=stop, random_state=1)
    assert cut == free[: free.index(stop)]
    several = gen.generate("a ", max_new_tokens=150, stop=["zzz", stop], random_state=1)
    assert several == cut


def test_num_return_sequences_gives_one_list_per_prompt_in_order(gen):
    out = gen.generate(
        ["the ", "a "], max_new_tokens=20, num_return_sequences=3, random_state=0
    )
    assert isinstance(out, list) and len(out) == 6
    greedy = gen.generate(
        ["the ", "a "], max_new_tokens=20, num_return_sequences=2, temperature=0
    )
    assert (
        greedy[0] == greedy[1] == gen.generate("the ", max_new_tokens=20, temperature=0)
    )
    assert (
        greedy[2] == greedy[3] == gen.generate("a ", max_new_tokens=20, temperature=0)
    )


def test_batched_prompts_of_different_lengths_match_single_greedy(gen):
    prompts = ["", "t", "the quick brown ", "to be or not to be, that"]
    batch = gen.generate(prompts, max_new_tokens=25, temperature=0)
    assert batch == [gen.generate(p, max_new_tokens=25, temperature=0) for p in prompts]


def test_top_k_one_and_tiny_top_p_equal_greedy(gen):
    greedy = gen.generate("the ", max_new_tokens=40, temperature=0)
    assert gen.generate("the ", max_new_tokens=40, top_k=1, random_state=0) == greedy
    assert gen.generate("the ", max_new_tokens=40, top_p=1e-6, random_state=0) == greedy


def test_temperature_schedule_of_zeros_is_greedy_and_last_value_repeats(gen):
    greedy = gen.generate("the ", max_new_tokens=30, temperature=0)
    assert gen.generate("the ", max_new_tokens=30, temperature=[0.0]) == greedy
    mixed = gen.generate("the ", max_new_tokens=30, temperature=[0.0] * 10 + [1.5])
    assert mixed[:10] == greedy[:10]
    assert mixed != greedy


def test_repetition_penalty_changes_greedy_output(gen):
    greedy = gen.generate("the ", max_new_tokens=60, temperature=0)
    penalised = gen.generate(
        "the ", max_new_tokens=60, temperature=0, repetition_penalty=3.0
    )
    assert penalised != greedy
    same = gen.generate(
        "the ", max_new_tokens=60, temperature=0, repetition_penalty=1.0
    )
    assert same == greedy


def test_min_new_tokens_forbids_end_of_document_early():
    # Documents are short, so a model learns to end them quickly.
    docs = ["ab"] * 40
    model = LSTMTextGenerator(
        embedding_dim=4,
        units=8,
        sequence_length=6,
        epochs=20,
        learning_rate=0.02,
        validation_fraction=0,
        random_state=0,
    ).fit(docs)
    short = model.generate("", max_new_tokens=30, temperature=0)
    assert len(short) < 10
    longer = model.generate("", max_new_tokens=30, min_new_tokens=20, temperature=0)
    assert len(longer) >= 20


def test_same_seed_same_text_and_chunking_does_not_change_tokens(gen):
    a = gen.generate("the ", max_new_tokens=100, random_state=7)
    assert gen.generate("the ", max_new_tokens=100, random_state=7) == a
    # A stop string that never occurs makes the loop run in chunks.
    assert gen.generate("the ", max_new_tokens=100, stop="@@@", random_state=7) == a
    assert gen.generate("the ", max_new_tokens=100, random_state=8) != a


def test_generate_does_not_use_global_random_state(gen):
    np.random.seed(0)
    a = gen.generate("the ", max_new_tokens=30, random_state=11)
    np.random.seed(1)
    b = gen.generate("the ", max_new_tokens=30, random_state=11)
    assert a == b


def test_word_level_generation_reads_naturally(word_pipe):
    text = sklstm.generate(word_pipe, "the", max_new_tokens=60, random_state=0)
    for mark in ".,;":
        assert f" {mark}" not in text
    pieces = list(sklstm.stream(word_pipe, "the", max_new_tokens=60, random_state=0))
    assert "".join(pieces) == text


def test_pipeline_stop_strings(word_pipe):
    free = sklstm.generate(word_pipe, "the", max_new_tokens=60, random_state=0)
    stop = free.split()[2]
    cut = sklstm.generate(
        word_pipe, "the", max_new_tokens=60, stop=stop, random_state=0
    )
    assert cut == free[: free.index(stop)]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"temperature": -0.5}, "The 'temperature' parameter of generate must be"),
        ({"temperature": []}, "The 'temperature' parameter of generate must be"),
        ({"temperature": [1.0, -1.0]}, "one per new token"),
        ({"top_k": 0}, "The 'top_k' parameter of generate must be an int >= 1"),
        ({"top_p": 0.0}, "The 'top_p' parameter of generate must be a float > 0"),
        ({"top_p": 1.5}, "The 'top_p' parameter of generate must be a float > 0"),
        ({"repetition_penalty": 0}, "'repetition_penalty' parameter of generate"),
        ({"max_new_tokens": -1}, "The 'max_new_tokens' parameter of generate"),
        ({"max_new_tokens": 2.5}, "The 'max_new_tokens' parameter of generate"),
        (
            {"min_new_tokens": 5, "max_new_tokens": 3},
            "The 'min_new_tokens' parameter of generate must be <= max_new_tokens=3",
        ),
        ({"stop": [""]}, "The 'stop' parameter of generate must be"),
        ({"stop": 3}, "The 'stop' parameter of generate must be"),
        ({"num_return_sequences": 0}, "'num_return_sequences' parameter of generate"),
    ],
)
def test_invalid_controls_raise_clear_errors(gen, kwargs, match):
    with pytest.raises(ValueError, match=match):
        gen.generate("the ", **kwargs)


def test_stream_rejects_batches_and_many_sequences(gen):
    with pytest.raises(TypeError, match="stream expects one str prompt; got list"):
        gen.stream(["a", "b"])
    with pytest.raises(ValueError, match="stream continues one prompt"):
        gen.stream("a", num_return_sequences=2)


def test_generated_ids_stay_in_vocabulary():
    ids = [np.array([3, 4, 5, 6, 3, 4, 5, 6] * 5)] * 3
    model = LSTMTextGenerator(
        embedding_dim=4, units=8, sequence_length=8, epochs=1,
        validation_fraction=0, random_state=0,
    ).fit(ids)  # fmt: skip
    out = model.generate([[3, 4], [5]], max_new_tokens=50, stop_at_eod=False)
    for row in out:
        assert row.dtype == np.int32
        assert row.min() >= 2 and row.max() < model.vocab_size_
    with pytest.raises(ValueError, match="stop strings need text"):
        model.generate([3, 4], stop="x")


def test_unknown_controls_are_named(gen):
    with pytest.raises(
        TypeError,
        match=r"generate got unexpected keyword argument\(s\) \['max_length'\]; "
        r"the generation controls are \['max_new_tokens'",
    ):
        gen.generate("the ", max_length=5)
