"""Generation controls, batching and streaming of LSTMTextGenerator."""

import collections
import pickle

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline

import sklstm
from sklstm import LSTMTextGenerator, TextSequencer

DOCS = [
    "the quick brown fox jumps over the lazy dog. " * 6,
    "a stitch in time saves nine, said the old tailor. " * 6,
    "to be or not to be, that is the question. " * 6,
    "all that glitters is not gold; all who wander are not lost. " * 6,
]


@pytest.fixture(scope="module")
def gen():
    return LSTMTextGenerator(
        embedding_dim=8,
        units=(24, 16),
        dense_units=12,
        sequence_length=16,
        epochs=2,
        validation_fraction=0,
        random_state=0,
    ).fit(DOCS)


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


@pytest.mark.parametrize("vocab", [3, 7, 103, 10_000])
def test_inverse_cdf_sampling_follows_the_distribution(vocab):
    import tensorflow as tf

    from sklstm._sampling import inverse_cdf_sample

    rng = np.random.default_rng(vocab)
    probs = rng.dirichlet(np.full(vocab, 0.3 if vocab < 1000 else 0.02))
    logits = tf.constant(np.log(probs + 1e-30)[None, :].repeat(2_000, 0), tf.float32)
    counts = np.zeros(vocab)
    n = 100_000
    for _ in range(n // 2_000):  # 2,000 rows a call keeps memory small
        uniforms = tf.constant(rng.random(2_000), tf.float32)
        counts += np.bincount(inverse_cdf_sample(logits, uniforms), minlength=vocab)
    # Total variation distance from the distribution, against the distance an
    # exact sampler of the same size shows.
    distance = 0.5 * np.abs(counts / n - probs).sum()
    exact = 0.5 * np.abs(rng.multinomial(n, probs) / n - probs).sum()
    assert distance < 1.5 * exact + 0.005


@pytest.mark.parametrize("vocab", [1, 3, 98, 2_000])
@pytest.mark.parametrize("jit", [False, True], ids=["graph", "xla"])
def test_top_k_and_top_p_thresholds_match_sorting(vocab, jit):
    import tensorflow as tf

    from sklstm._sampling import kth_largest, nucleus_floor

    kth = tf.function(kth_largest, jit_compile=jit)
    floor_of = tf.function(nucleus_floor, jit_compile=jit)
    rng = np.random.default_rng(vocab)
    x = (rng.standard_normal((16, vocab)) * 5).astype(np.float32)
    x[:8] = np.round(x[:8])  # ties
    x[::3, 0] = -1e9  # a banned token
    x[1, :] = -0.0  # one row of equal values, zeros of both signs
    x[1, ::2] = 0.0
    ordered = -np.sort(-x, axis=1)
    for k in sorted({1, min(2, vocab), vocab // 2 + 1, vocab}):
        got = kth(tf.constant(x), tf.constant(k)).numpy()
        np.testing.assert_array_equal(got, ordered[:, k - 1])

    probs = np.exp(x - x.max(axis=1, keepdims=True))
    probs = (probs / probs.sum(axis=1, keepdims=True)).astype(np.float32)
    # Mass of the tokens more likely than each token.
    above = np.array([[row[row > v].sum() for v in row] for row in probs.astype(float)])
    for top_p in (1e-6, 0.3, 0.9, 0.999):
        floor = floor_of(tf.constant(probs), tf.constant(top_p, tf.float32)).numpy()
        kept = probs >= floor[:, None]
        clear = np.abs(above - top_p) > 1e-5  # away from float32 rounding
        np.testing.assert_array_equal(kept[clear], (above < top_p)[clear])
        assert kept[np.arange(16), probs.argmax(axis=1)].all()  # the top token


def test_fast_argmax_matches_numpy_including_ties():
    import tensorflow as tf

    from sklstm._sampling import fast_argmax

    rng = np.random.default_rng(0)
    for vocab in (2, 5, 103, 10_000):
        x = rng.integers(0, 4, size=(64, vocab)).astype(np.float32)  # many ties
        assert (fast_argmax(tf.constant(x)).numpy() == x.argmax(axis=1)).all()


def test_unknown_controls_are_named(gen):
    with pytest.raises(
        TypeError,
        match=r"generate got unexpected keyword argument\(s\) \['max_length'\]; "
        r"the generation controls are \['max_new_tokens'",
    ):
        gen.generate("the ", max_length=5)


def compiled_programs(gen, monkeypatch, calls):
    """XLA programs (HLO text) of each compiled generation function that
    ``calls`` of ``gen.generate`` (prompts, max_new_tokens) ran."""
    from sklstm._sampling import Program

    seen = []
    run = Program.run

    def record(self, function, args):
        seen.append((function(True), args))
        return run(self, function, args)

    monkeypatch.setattr(Program, "run", record)
    for prompts, n in calls:
        gen.generate(prompts, max_new_tokens=n, random_state=0, stop_at_eod=False)
        gen.generate(prompts, max_new_tokens=n, stop="zzz", stop_at_eod=False)
    programs = {}
    for function, args in seen:
        hlo = function.experimental_get_compiler_ir(*args)(stage="hlo")
        programs.setdefault(id(function), set()).add(hlo)
    assert len(seen) >= 4 * len(calls)  # prefill blocks and decode calls
    return programs


@pytest.mark.parametrize(
    "calls",
    [
        [
            (["the cat", "a dog sat on"], 5),
            (["sat on the mat and " * 5, "mat"], 17),  # two blocks of columns
            (["dog", "the the the"], 40),
        ],
        [(["the cat"] * 9, 5), (["dog", "mat"] * 5, 9)],  # 9 and 10 rows
    ],
    ids=["prompts-and-lengths", "batch-sizes"],
)
def test_compiled_loops_serve_every_prompt_length_and_batch(gen, monkeypatch, calls):
    # XLA compiles a function for each distinct program. Were the prompts'
    # values or the number of new tokens compile-time constants, each new
    # prompt or max_new_tokens would compile anew (a fraction of a second
    # each time); batch sizes are bucketed. One program each must serve.
    programs = compiled_programs(gen, monkeypatch, calls)
    assert [len(p) for p in programs.values()] == [1] * len(programs)


def test_models_of_one_shape_share_compiled_loops_but_not_weights(monkeypatch):
    # The compiled loops take the weights as arguments, so a second model of
    # the same shape reuses the first one's loops: each must still generate
    # from its own weights, and from the weights training changed since.
    from sklstm import _sampling

    params = dict(
        embedding_dim=8, units=16, sequence_length=16, epochs=2, validation_fraction=0
    )
    a = LSTMTextGenerator(**params, random_state=1).fit(DOCS)
    b = LSTMTextGenerator(**params, random_state=2).fit(DOCS)
    kwargs = dict(max_new_tokens=40, random_state=0, stop_at_eod=False)
    shared = [m.generate(["the ", "a "], **kwargs) for m in (a, b)]
    assert a._engine()[1].program is b._engine()[1].program
    assert shared[0] != shared[1]
    b.set_params(warm_start=True, epochs=1).fit(DOCS)  # weights change in place
    shared.append(b.generate(["the ", "a "], **kwargs))
    assert shared[2] != shared[1]

    # Copies with loops of their own (an empty cache) generate the same texts.
    monkeypatch.setattr(_sampling, "_PROGRAMS", collections.OrderedDict())
    own = [pickle.loads(pickle.dumps(m)) for m in (a, b)]
    assert own[0]._engine()[1].program is not a._engine()[1].program
    assert [m.generate(["the ", "a "], **kwargs) for m in own] == shared[::2]
