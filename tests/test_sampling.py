"""The sampling rules and the compiled generation loops."""

import collections
import pickle

import numpy as np
import pytest
from corpora import SAYINGS as DOCS

from sklstm import LSTMTextGenerator

# ``gen``, the model that most tests here generate with, is a fixture of
# conftest.py (fitted on SAYINGS once per module).


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
