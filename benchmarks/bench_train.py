"""Training speed and memory: sklstm against the classic recipe and plain Keras.

Four ways to train the same network on the embedded corpus
(:func:`sklstm.load_python_docs`), each in a process of its own:

- classic: the classic recipe. Every window of 20 tokens (stride 1) is
  materialised, its next token one-hot encoded with
  ``keras.utils.to_categorical``; Embedding -> LSTM -> (relu Dense) ->
  softmax Dense, ``categorical_crossentropy``, Adam, ``model.fit`` on the
  numpy arrays. One target per window.
- reference: the straightforward many-to-many model in plain Keras.
  Embedding -> LSTM(return_sequences) -> (relu Dense) -> Dense logits,
  ``model.fit`` on numpy arrays of non-overlapping windows of 100 tokens
  (``x = ids[i : i + 100]``, ``y = ids[i + 1 : i + 101]``), batch 64, sparse
  categorical cross-entropy from logits, Adam with Keras' defaults.
- fused and keras-path: ``LSTMTextGenerator.fit`` on the raw documents,
  with the same network and the estimator's own batch size and sequence
  length (printed), with ``training_kernel="fused"`` (sklstm's own LSTM
  kernel, the default on a CPU) and ``training_kernel="keras"`` (Keras'
  own LSTM layer; cuDNN on a GPU). ``epochs`` is raised and early stopping
  turned off so that training runs for the whole timed span; validation on
  10% of the documents (its default) runs at each epoch end and is
  reported apart.

Three configurations: char (``TextSequencer()``, embedding 64, LSTM 384:
the default char model), char2 (two LSTM layers of 256) and word
(``TextSequencer(level="word", max_words=10000)``, embedding 100, LSTM 128,
relu Dense 128). The word vocabulary is capped at 10,000 ids; the corpus
holds fewer distinct words, so the figure used is printed.

Machines are noisy, so every child runs ``--repeats`` times (3), the
methods alternating within each repeat; tables give the median and the
spread (lowest-highest), and ratios are medians of the ratios within a
repeat (paired runs).

A whole first ``fit`` is timed too (``--no-first-fit`` skips it): in a
fresh process, from raw documents to a trained model, one epoch over
``--fit-chars`` characters (1,000,000) of a corpus that is not the embedded
one (Vim's documentation where Debian's ``vim-runtime`` is installed,
otherwise the Python standard library's modules), for the default char
model: ``LSTMTextGenerator(epochs=1).fit(docs)`` with each kernel, against
plain Keras (tokenise with the same vocabulary, cut non-overlapping windows
of 100, build, compile, ``fit(epochs=1)`` at batch 64). The time from the
call to the first batch's end (tracing and compiling) is reported apart.

What is measured, per method and configuration, in a fresh child process
(``bench_train.py --child METHOD CONFIG``):

- tokens trained per second: target tokens that carry a loss (classic: one
  per window; many-to-many: every position) per second of steady-state
  training. A Keras callback times each batch from the end of the previous
  batch (or the start of its epoch) to its own end, so input pipeline time
  counts; the first 5 batches (tracing) are not timed, and training stops
  after ``--seconds`` of timed batches. Time between epochs (sklstm's
  validation) is not counted, and is printed apart. Rows per batch are read
  from Keras' loss tracker, so partial batches count exactly.
- memory: resident set size after TensorFlow is imported, after the text is
  loaded (and, for classic and reference, encoded and windowed), and the
  peak (``ru_maxrss``) of the whole child.
- % of FLOP limit: training FLOPs per target token (forward + backward taken
  as 3 forward passes, 2 FLOPs per multiply-add; per position an LSTM layer
  costs ``4 * (in + units + 1) * units`` multiply-adds and a Dense layer
  ``in * out``; the embedding is ignored) times tokens per second, over the
  float32 peak of the machine: the best of ten ``tf.linalg.matmul`` of
  2048 x 2048 matrices, timed at the start and at the end of the run. A
  classic target costs its whole window: the LSTM over 20 positions and the
  head once.

A second table shows how memory scales with the corpus (documents
repeated 1, 4 and 16 times, ``--scale-seconds`` of training each; with
``--quick`` the 1x point is the run of the first table): sklstm's
peak memory and the size of its id stream (uint16 ids up to 65,536 of them,
as ``fit`` keeps them), and the classic recipe's
one-hot target array (float64, as ``to_categorical`` returns it) at 1x, and
the size it would need at 4x and 16x (not run).

Run from the repository root (about 40 minutes on 2 cores; ``--quick``,
with 3 s per child on 1/8 of the corpus and one repeat, a few minutes)::

    TF_CPP_MIN_LOG_LEVEL=2 .venv/bin/python benchmarks/bench_train.py
    TF_CPP_MIN_LOG_LEVEL=2 .venv/bin/python benchmarks/bench_train.py --quick

Everything is seeded; nothing is downloaded and nothing is written.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time

import _common as common

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

METHODS = ("classic", "reference", "keras-path", "fused")
KERNELS = {"keras-path": "keras", "fused": "fused"}
CONFIGS = {
    "char": {"level": "char", "embedding_dim": 64, "units": 384, "dense_units": None},
    "char2": {
        "level": "char",
        "embedding_dim": 64,
        "units": (256, 256),
        "dense_units": None,
    },
    "word": {
        "level": "word",
        "max_words": 10_000,
        "embedding_dim": 100,
        "units": 128,
        "dense_units": 128,
    },
}
RESULT_TAG = common.RESULT_TAG


def layer_units(cfg):
    units = cfg["units"]
    return (units,) if isinstance(units, int) else tuple(units)


def make_sequencer(config):
    from sklstm import TextSequencer

    cfg = CONFIGS[config]
    if cfg["level"] == "char":
        return TextSequencer()
    return TextSequencer(level="word", max_words=cfg["max_words"])


def encoded_stream(config, docs):
    """Vocabulary size and joined id stream of ``docs`` for ``config``."""
    sequencer = make_sequencer(config).fit(docs)
    return sequencer.vocab_size_, common.join_documents(sequencer.transform(docs))


# -------------------------------------------------------------------- child
def run_classic(args, cfg, docs, timer, out):
    import keras
    import numpy as np

    window, batch = args.classic_window, args.batch
    vocab, stream = encoded_stream(args.child[1], docs)
    out["rss_loaded"] = common.rss_now()
    # The recipe: every window materialised, every target one-hot.
    x = np.lib.stride_tricks.sliding_window_view(stream[:-1], window).copy()
    y = keras.utils.to_categorical(stream[window:], num_classes=vocab)
    out.update(
        vocab=vocab,
        windows=len(x),
        window_bytes=x.nbytes,
        onehot_bytes=y.nbytes,
        onehot_dtype=str(y.dtype),
        id_bytes=stream.nbytes,
        stream_tokens=len(stream),
        rss_windows=common.rss_now(),
    )
    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(window,), dtype="int32")
    h = keras.layers.Embedding(vocab, cfg["embedding_dim"])(inputs)
    units = layer_units(cfg)
    for k, u in enumerate(units):
        h = keras.layers.LSTM(u, return_sequences=k < len(units) - 1)(h)
    if cfg["dense_units"]:
        h = keras.layers.Dense(cfg["dense_units"], activation="relu")(h)
    probs = keras.layers.Dense(vocab, activation="softmax")(h)
    model = keras.Model(inputs, probs)
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    model.fit(
        x, y, batch_size=batch, epochs=10**6, shuffle=True, callbacks=[timer], verbose=0
    )
    out.update(batch=batch, window=window, tokens_per_row=1, positions=window)
    out["jit_compile"] = bool(model.jit_compile)


def run_reference(args, cfg, docs, timer, out):
    window, batch = args.window, args.batch
    vocab, stream = encoded_stream(args.child[1], docs)
    x, y = common.reference_windows(stream, window)
    out.update(
        vocab=vocab,
        windows=len(x),
        id_bytes=stream.nbytes,
        stream_tokens=len(stream),
        rss_loaded=common.rss_now(),
    )
    model = common.reference_model(
        vocab, cfg["embedding_dim"], layer_units(cfg), cfg["dense_units"]
    )
    model.fit(
        x, y, batch_size=batch, epochs=10**6, shuffle=True, callbacks=[timer], verbose=0
    )
    out.update(batch=batch, window=window, tokens_per_row=window, positions=1)
    out["jit_compile"] = bool(model.jit_compile)


def run_sklstm(args, cfg, docs, timer, out):
    from sklstm import LSTMTextGenerator

    out["rss_loaded"] = common.rss_now()  # raw text; fit encodes it
    gen = LSTMTextGenerator(
        sequencer=make_sequencer(args.child[1]),
        embedding_dim=cfg["embedding_dim"],
        units=cfg["units"],
        dense_units=cfg["dense_units"],
        # Train for the whole timed span: the timer stops fit, not epochs.
        epochs=10**6,
        early_stopping=False,
        callbacks=[timer],
        random_state=0,
        training_kernel=KERNELS[args.child[0]],
    )
    gen.fit(docs)
    out["peak_rss"] = common.peak_rss()  # before anything else is allocated
    out["kernel"] = gen.training_kernel_
    params = gen.get_params()
    out.update(
        vocab=int(gen.vocab_size_),
        batch=params["batch_size"],
        window=params["sequence_length"],
        tokens_per_row=params["sequence_length"],
        positions=1,
        settings={
            k: params[k]
            for k in (
                "batch_size",
                "sequence_length",
                "stateful",
                "learning_rate_schedule",
                "validation_fraction",
            )
            if k in params
        },
    )
    ids = gen.sequencer_.transform(docs)
    out["stream_tokens"] = common.stream_tokens(ids)
    out["id_bytes"] = common.stream_bytes(ids, gen.vocab_size_)


def child(args):
    method, config = args.child
    import keras  # noqa: F401  (imported by every method before measuring)
    import tensorflow as tf  # noqa: F401

    import sklstm  # noqa: F401

    cfg = CONFIGS[config]
    out = {"method": method, "config": config, "repeat": args.repeat}
    out["rss_import"] = common.rss_now()
    docs = common.load_corpus(args.fraction, args.repeat)
    out["chars"] = sum(len(d) for d in docs)
    out["documents"] = len(docs)
    batch_timer, _ = common.keras_callbacks()
    timer = batch_timer(warmup=args.warmup, seconds=args.seconds)
    runner = {"classic": run_classic, "reference": run_reference}
    runner.get(method, run_sklstm)(args, cfg, docs, timer, out)
    out.setdefault("peak_rss", common.peak_rss())
    rec = timer.record
    out.update(rec)
    out["tokens_per_s"] = (
        rec["timed_rows"] * out["tokens_per_row"] / rec["timed_seconds"]
        if rec["timed_seconds"]
        else float("nan")
    )
    out["flops_per_token"] = common.train_flops_per_target(
        out["vocab"],
        cfg["embedding_dim"],
        cfg["units"],
        cfg["dense_units"],
        positions=out["positions"],
    )
    print(RESULT_TAG + json.dumps(out), flush=True)


def fit_corpus_name():
    """The corpus of the whole-fit timing: Vim's documentation, where
    installed, otherwise the standard library's modules."""
    import glob

    return "vim" if glob.glob("/usr/share/vim/vim*/doc/*.txt") else "stdlib"


def first_fit_child(args):
    """Time one whole first ``fit`` from raw documents, in this process."""
    method = args.first_fit_child
    import keras  # noqa: F401  (imported before the clock starts)
    import tensorflow as tf  # noqa: F401

    from sklstm import LSTMTextGenerator, TextSequencer

    docs = common.load_named_corpus(args.fit_corpus, args.fit_chars)
    out = {"method": method, "chars": sum(map(len, docs)), "documents": len(docs)}
    batch_timer, _ = common.keras_callbacks()
    timer = batch_timer(warmup=0)
    start = time.perf_counter()
    if method == "reference":
        sequencer = TextSequencer().fit(docs)
        stream = common.join_documents(sequencer.transform(docs))
        window, vocab = 100, sequencer.vocab_size_
        x, y = common.reference_windows(stream, window)
        cfg = CONFIGS["char"]
        model = common.reference_model(vocab, cfg["embedding_dim"], layer_units(cfg))
        model.fit(x, y, batch_size=64, epochs=1, callbacks=[timer], verbose=0)
        out["training_s"] = timer.record["train_seconds"]
    else:
        gen = LSTMTextGenerator(
            epochs=1, random_state=0, training_kernel=KERNELS[method],
            callbacks=[timer],
        )  # fmt: skip
        gen.fit(docs)
        out["training_s"] = gen.training_time_
        out["kernel"] = gen.training_kernel_
    out["fit_s"] = time.perf_counter() - start
    out["first_batch_s"] = timer.record["first_batch_seconds"]
    out["peak_rss"] = common.peak_rss()
    print(RESULT_TAG + json.dumps(out), flush=True)


# ------------------------------------------------------------------- parent
def run_child(args, method, config, seconds, repeat):
    command = [
        sys.executable,
        os.path.abspath(__file__),
        "--child",
        method,
        config,
        "--seconds",
        str(seconds),
        "--fraction",
        str(args.fraction),
        "--repeat",
        str(repeat),
        "--warmup",
        str(args.warmup),
        "--classic-window",
        str(args.classic_window),
        "--window",
        str(args.window),
        "--batch",
        str(args.batch),
    ]
    result = common.run_child(command, f"{method} {config} x{repeat}")
    if result is None:
        return None
    wall = result["child_wall"] = result["wall"]
    print(
        f"  {config:<4} {method:<9} x{repeat:<2} {result['tokens_per_s']:>10,.0f} "
        f"tokens/s, peak {common.mb(result['peak_rss'])} MB ({wall:.0f} s)",
        flush=True,
    )
    return result


def ratio(a, b):
    if not b or not a or math.isnan(a) or math.isnan(b):
        return "n/a"
    return f"{a / b:.2f}x"


def run_first_fit(args, method):
    command = [
        sys.executable, os.path.abspath(__file__), "--first-fit-child", method,
        "--fit-chars", str(args.fit_chars), "--fit-corpus", args.fit_corpus,
    ]  # fmt: skip
    result = common.run_child(command, f"first fit {method}")
    if result is not None:
        print(
            f"  first fit {method:<10} {result['fit_s']:6.1f} s (first batch "
            f"{result['first_batch_s']:.1f} s)",
            flush=True,
        )
    return result


def spread(values, fmt="{:,.0f}"):
    """``median (lowest-highest)`` of a list of numbers."""
    values = [v for v in values if v is not None and not math.isnan(v)]
    if not values:
        return "n/a"
    text = fmt.format(statistics.median(values))
    if len(values) > 1:
        text += f" ({fmt.format(min(values))}-{fmt.format(max(values))})"
    return text


def paired(runs, method, other, key="tokens_per_s", invert=False):
    """Median and spread of ``method``'s ``key`` over ``other``'s, within
    each repeat (paired runs)."""
    ratios = []
    for repeat in runs:
        a, b = repeat.get(method), repeat.get(other)
        if a and b and a[key] and b[key]:
            ratios.append(b[key] / a[key] if invert else a[key] / b[key])
    return spread(ratios, "{:.2f}x")


def print_config_table(config, runs, peak):
    """``runs``: one dict per repeat, method -> result."""
    rows = []
    for method in METHODS:
        results = [run[method] for run in runs if method in run]
        if not results:
            continue
        rates = [r["tokens_per_s"] for r in results]
        rows.append(
            (
                method,
                f"{results[0]['batch']}x{results[0]['window']}",
                spread(rates),
                paired(runs, method, "reference"),
                paired(runs, method, "keras-path"),
                spread([r["peak_rss"] / 2**20 for r in results], "{:,.0f}"),
                spread(
                    [
                        100 * r["flops_per_token"] * v / peak
                        for r, v in zip(results, rates, strict=True)
                    ],
                    "{:.1f}%",
                ),  # fmt: skip
                spread([r["first_batch_seconds"] for r in results], "{:.1f}"),
            )
        )
    any_r = next(iter(runs[0].values()))
    cfg = CONFIGS[config]
    print(
        f"\n### {config}: vocabulary {any_r['vocab']:,} ids, embedding "
        f"{cfg['embedding_dim']}, LSTM {' + '.join(map(str, layer_units(cfg)))}"
        + (f", relu Dense {cfg['dense_units']}" if cfg["dense_units"] else "")
        + f"; {any_r['chars']:,} characters, {any_r['stream_tokens']:,} tokens; "
        f"{len(runs)} repeat(s)\n"
    )
    header = ("method", "batch x window", "tokens/s", "x reference",
              "x keras-path", "peak RSS MB", "% of FLOP limit",
              "first batch s")  # fmt: skip
    common.print_table(header, rows, "llrrrrrr")
    print()
    for method in METHODS:
        r = next((run[method] for run in runs if method in run), None)
        if r is None:
            continue
        line = (
            f"- {method}: {r['flops_per_token']:,} training FLOPs per target "
            f"token; {r['timed_batches']:,} batches timed over "
            f"{r['timed_seconds']:.1f} s (first repeat)"
        )
        if method == "classic":
            line += (
                f"; {r['windows']:,} windows: inputs "
                f"{common.human_bytes(r['window_bytes'])}, one-hot targets "
                f"{common.human_bytes(r['onehot_bytes'])} ({r['onehot_dtype']})"
            )
        if method in KERNELS:
            settings = ", ".join(f"{k}={v!r}" for k, v in r["settings"].items())
            line += (
                f"; training_kernel_={r['kernel']!r}; {settings} (its defaults; "
                "epochs raised and early stopping off, so that the timer ends "
                f"training); {r['between_epochs_seconds']:.1f} s between epochs "
                "(validation, weight copies), not counted above"
            )
        if "jit_compile" in r:
            line += f"; jit_compile={r['jit_compile']} (Keras' default)"
        print(line)


def print_first_fit_table(runs, args):
    rows = []
    for method in ("reference", "keras-path", "fused"):
        results = [run[method] for run in runs if method in run]
        if not results:
            continue
        rows.append(
            (
                method,
                spread([r["fit_s"] for r in results], "{:.1f}"),
                paired(runs, method, "reference", "fit_s", invert=True),
                paired(runs, method, "keras-path", "fit_s", invert=True),
                spread([r["first_batch_s"] for r in results], "{:.1f}"),
                spread([r["fit_s"] - r["training_s"] for r in results], "{:.1f}"),
                spread([r["peak_rss"] / 2**20 for r in results], "{:,.0f}"),
            )
        )
    any_r = next(iter(runs[0].values()))
    print(
        f"\n## Whole first fit: default char model, 1 epoch over "
        f"{any_r['chars']:,} characters ({any_r['documents']} documents) of the "
        f"{args.fit_corpus} corpus, each in a fresh process; {len(runs)} "
        "repeat(s)\n"
    )
    header = ("method", "fit s", "speed x reference", "speed x keras-path",
              "first batch s", "outside training s", "peak RSS MB")  # fmt: skip
    common.print_table(header, rows, "lrrrrrr")
    print(
        "\nfit s: from raw documents to a trained model (reference: tokenise, "
        "window, build, compile, fit). Speed: the other's fit time over this "
        "one's, within a repeat. First batch: from the start of training to "
        "the first batch's end (tracing, compiling). Outside training: fit s "
        "less the training loop (tokenising; sklstm: validation split, "
        "building)."
    )


def print_scaling_table(scaling, classic_runs, scales, classic_scaled=()):
    rows = []
    for r in scaling:
        rows.append(
            (
                f"sklstm {r['config']}",
                f"{r['repeat']}x",
                f"{r['stream_tokens']:,}",
                common.human_bytes(r["id_bytes"]),
                "none",
                common.mb(r["peak_rss"]),
                f"{r['tokens_per_s']:,.0f}",
                "run",
            )
        )
    for r in classic_runs:
        for k in sorted({1, *scales}):
            stream = k * (r["stream_tokens"] - 1) + 1
            windows = stream - r["window"]  # one per position with a full window
            onehot = windows * r["vocab"] * 8  # float64, as to_categorical
            # The 1x run is the main table's; larger corpora only when asked.
            measured = (
                r
                if k == 1
                else next(
                    (
                        c
                        for c in classic_scaled
                        if (c["config"], c["repeat"]) == (r["config"], k)
                    ),
                    None,
                )
            )
            status = "run" if k != 1 else "run (main table)"
            rows.append(
                (
                    f"classic {r['config']}",
                    f"{k}x",
                    f"{stream:,}",
                    common.human_bytes(4 * stream),
                    f"{common.human_bytes(onehot)} "
                    f"(float32: {common.human_bytes(onehot // 2)})",
                    common.mb(measured["peak_rss"]) if measured else "-",
                    f"{measured['tokens_per_s']:,.0f}" if measured else "-",
                    status if measured else "not run: would need",
                )
            )
    header = ("method", "corpus", "tokens", "id stream",
              "one-hot targets", "peak RSS MB", "tokens/s", "")  # fmt: skip
    common.print_table(header, rows, "llrrrrrl")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="3 s per child on 1/8 of the corpus"
    )
    parser.add_argument(
        "--seconds", type=float, help="timed training per child (60; quick 3)"
    )
    parser.add_argument(
        "--scale-seconds",
        type=float,
        help="timed training per memory-scaling child (10; quick 3)",
    )
    parser.add_argument(
        "--fraction", type=float, help="part of each document used (1; quick 1/8)"
    )
    parser.add_argument(
        "--scales", help="corpus repeats for the memory table (1,4,16; quick 1,16)"
    )
    parser.add_argument(
        "--classic-scales",
        default="",
        help="corpus repeats above 1 at which to run the classic recipe too, "
        "for the memory table (e.g. 4: about 10 GB for the word config)",
    )
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument(
        "--repeats", type=int, help="paired runs of every child (3; quick 1)"
    )
    parser.add_argument(
        "--classic-repeats",
        type=int,
        default=1,
        help="repeats that run the classic recipe too (slow, memory-hungry)",
    )
    parser.add_argument("--no-first-fit", action="store_true")
    parser.add_argument(
        "--fit-chars", type=int, help="characters of the whole first fit (1,000,000)"
    )
    parser.add_argument(
        "--fit-corpus",
        choices=("vim", "vim-ascii", "stdlib"),
        help="corpus of the whole first fit (vim where installed, else stdlib)",
    )
    parser.add_argument("--first-fit-child", help=argparse.SUPPRESS)
    parser.add_argument("--no-scaling", action="store_true")
    parser.add_argument("--warmup", type=int, default=5, help="untimed batches")
    parser.add_argument("--classic-window", type=int, default=20)
    parser.add_argument("--window", type=int, default=100, help="reference window")
    parser.add_argument(
        "--batch", type=int, default=64, help="classic and reference batch"
    )
    parser.add_argument("--child", nargs=2, metavar=("METHOD", "CONFIG"))
    parser.add_argument("--repeat", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    for name, full, quick in (
        ("seconds", 30.0, 3.0),
        ("repeats", 3, 1),
        ("fit_chars", 1_000_000, 100_000),
        ("scale_seconds", 10.0, 3.0),
        ("fraction", 1.0, 0.125),
        ("scales", "1,4,16", "1,16"),
    ):
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    if args.fit_corpus is None:
        args.fit_corpus = fit_corpus_name()
    if args.child:
        child(args)
        return
    if args.first_fit_child:
        first_fit_child(args)
        return

    configs = [c for c in args.configs.split(",") if c]
    methods = [m for m in args.methods.split(",") if m]
    scales = [int(k) for k in args.scales.split(",") if k]
    for c in configs:
        if c not in CONFIGS:
            parser.error(f"unknown config {c!r}; choose from {sorted(CONFIGS)}")
    for m in methods:
        if m not in METHODS:
            parser.error(f"unknown method {m!r}; choose from {METHODS}")

    start = time.perf_counter()
    peaks = [common.measure_peak()]
    print(f"float32 matmul 2048x2048: {peaks[0] / 1e9:.1f} GFLOP/s", flush=True)
    runs = {c: [] for c in configs}  # per config: per repeat, method -> result
    for repeat in range(args.repeats):
        for config in configs:
            found = {}
            for method in methods:
                if method == "classic" and repeat >= args.classic_repeats:
                    continue
                r = run_child(args, method, config, args.seconds, 1)
                if r is not None:
                    found[method] = r
            runs[config].append(found)
    fit_runs = []
    if not args.no_first_fit:
        print(f"whole first fit on the {args.fit_corpus} corpus", flush=True)
        for _ in range(args.repeats):
            found = {}
            for method in ("reference", "keras-path", "fused"):
                r = run_first_fit(args, method)
                if r is not None:
                    found[method] = r
            fit_runs.append(found)
    scaling = []
    if not args.no_scaling and "fused" in methods:
        for config in configs:
            for k in scales:
                main_run = [run["fused"] for run in runs[config] if "fused" in run]
                if k == 1 and main_run and args.scale_seconds == args.seconds:
                    scaling.append(main_run[0])  # the same run: reuse it
                    continue
                r = run_child(args, "fused", config, args.scale_seconds, k)
                if r is not None:
                    scaling.append(r)
    classic_scaled = []
    for config in configs:
        for k in [int(k) for k in args.classic_scales.split(",") if k]:
            if k != 1 and "classic" in methods:
                r = run_child(args, "classic", config, args.scale_seconds, k)
                if r is not None:
                    classic_scaled.append(r)
    peaks.append(common.measure_peak())
    peak = max(peaks)
    print(
        f"float32 matmul 2048x2048: {peaks[1] / 1e9:.1f} GFLOP/s; peak "
        f"{peak / 1e9:.1f} GFLOP/s (best of the start and the end)"
    )

    print("\n## Training speed\n")
    for line in common.describe_run():
        print(line)
    print(
        f"Timed training per child: {args.seconds:g} s after {args.warmup} "
        f"untimed batches; corpus: {args.fraction:g} of each document; peak "
        f"{peak / 1e9:.1f} GFLOP/s (float32 matmul). Figures: median "
        "(lowest-highest) over the repeats."
    )
    for config in configs:
        if any(runs[config]):
            print_config_table(config, [r for r in runs[config] if r], peak)
    if any(fit_runs):
        print_first_fit_table([r for r in fit_runs if r], args)

    classic_runs = [
        run["classic"] for c in configs for run in runs[c][:1] if "classic" in run
    ]
    if scaling or classic_runs:
        print(
            f"\n## Memory as the corpus grows (documents repeated; fused: "
            f"{args.scale_seconds:g} s of timed training each)\n"
        )
        print_scaling_table(scaling, classic_runs, scales, classic_scaled)
    print(f"\n({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
