"""Training speed and memory: sklstm against the classic recipe and plain Keras.

Three ways to train the same network on the embedded corpus
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
- sklstm: ``LSTMTextGenerator.fit`` on the raw documents, with the same
  network and the estimator's own batch size and sequence length (printed).
  ``epochs`` is raised and early stopping turned off so that training runs
  for the whole timed span; validation on 10% of the documents (its
  default) runs at each epoch end and is reported apart.

Two configurations: char (``TextSequencer()``, embedding 64, LSTM 256) and
word (``TextSequencer(level="word", max_words=10000)``, embedding 100, LSTM
128, relu Dense 128). The word vocabulary is capped at 10,000 ids; the
corpus holds fewer distinct words, so the figure used is printed.

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

Run from the repository root (about a quarter of an hour on 2 cores;
``--quick``, with 3 s per child on 1/8 of the corpus, 2 to 3 minutes)::

    TF_CPP_MIN_LOG_LEVEL=2 .venv/bin/python benchmarks/bench_train.py
    TF_CPP_MIN_LOG_LEVEL=2 .venv/bin/python benchmarks/bench_train.py --quick

Everything is seeded; nothing is downloaded and nothing is written.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

import _common as common

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

METHODS = ("classic", "reference", "sklstm")
CONFIGS = {
    "char": {"level": "char", "embedding_dim": 64, "units": 256, "dense_units": None},
    "word": {
        "level": "word",
        "max_words": 10_000,
        "embedding_dim": 100,
        "units": 128,
        "dense_units": 128,
    },
}
RESULT_TAG = common.RESULT_TAG


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
    h = keras.layers.LSTM(cfg["units"])(h)
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
    import keras

    window, batch = args.window, args.batch
    vocab, stream = encoded_stream(args.child[1], docs)
    n = (len(stream) - 1) // window  # non-overlapping windows
    x = stream[: n * window].reshape(n, window)
    y = stream[1 : n * window + 1].reshape(n, window)
    out.update(
        vocab=vocab,
        windows=n,
        id_bytes=stream.nbytes,
        stream_tokens=len(stream),
        rss_loaded=common.rss_now(),
    )
    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(None,), dtype="int32")
    h = keras.layers.Embedding(vocab, cfg["embedding_dim"], name="embedding")(inputs)
    h = keras.layers.LSTM(cfg["units"], return_sequences=True, name="lstm_0")(h)
    if cfg["dense_units"]:
        h = keras.layers.Dense(cfg["dense_units"], activation="relu", name="dense")(h)
    logits = keras.layers.Dense(vocab, name="logits")(h)
    model = keras.Model(inputs, logits)
    model.compile(
        optimizer=keras.optimizers.Adam(),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
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
    )
    gen.fit(docs)
    out["peak_rss"] = common.peak_rss()  # before anything else is allocated
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


def print_config_table(config, results, peak):
    by_method = {r["method"]: r for r in results}
    ref = by_method.get("reference", {}).get("tokens_per_s")
    classic = by_method.get("classic", {}).get("tokens_per_s")
    rows = []
    for method in METHODS:
        r = by_method.get(method)
        if r is None:
            continue
        rate = r["tokens_per_s"]
        rows.append(
            (
                method,
                f"{r['batch']}x{r['window']}",
                f"{rate:,.0f}",
                ratio(rate, ref),
                ratio(rate, classic),
                common.mb(r["rss_loaded"]),
                common.mb(r["peak_rss"]),
                f"{100 * rate * r['flops_per_token'] / peak:.1f}%",
            )
        )
    any_r = results[0]
    cfg = CONFIGS[config]
    print(
        f"\n### {config}: vocabulary {any_r['vocab']:,} ids, embedding "
        f"{cfg['embedding_dim']}, LSTM {cfg['units']}"
        + (f", relu Dense {cfg['dense_units']}" if cfg["dense_units"] else "")
        + f"; {any_r['chars']:,} characters, {any_r['stream_tokens']:,} tokens\n"
    )
    header = ("method", "batch x window", "tokens/s", "x reference", "x classic",
              "RSS after load MB", "peak RSS MB", "% of FLOP limit")  # fmt: skip
    common.print_table(header, rows, "llrrrrrr")
    print(
        "\nRSS after load: the raw documents loaded (classic and reference: also "
        "encoded into one id stream, before any windows); TensorFlow alone "
        f"holds {common.mb(any_r['rss_import'])} MB.\n"
    )
    for r in results:
        line = (
            f"- {r['method']}: {r['flops_per_token']:,} training FLOPs per target "
            f"token; {r['timed_batches']:,} batches timed over "
            f"{r['timed_seconds']:.1f} s; {r['epochs']:.2f} epochs"
        )
        if r["method"] == "classic":
            line += (
                f"; {r['windows']:,} windows: inputs "
                f"{common.human_bytes(r['window_bytes'])}, one-hot targets "
                f"{common.human_bytes(r['onehot_bytes'])} "
                f"({r['onehot_dtype']}); RSS once both were built "
                f"{common.mb(r['rss_windows'])} MB"
            )
        if r["method"] == "sklstm":
            between = r["between_epochs_seconds"]
            total = r["timed_seconds"] + between
            settings = ", ".join(f"{k}={v!r}" for k, v in r["settings"].items())
            line += (
                f"; {settings} (its defaults; epochs raised and early stopping "
                "off, so that the timer ends training); "
                f"{between:.1f} s between epochs (validation, weight copies), "
                f"not counted above; counting it, "
                f"{r['timed_rows'] * r['tokens_per_row'] / total:,.0f} tokens/s"
            )
        if "jit_compile" in r:
            line += f"; jit_compile={r['jit_compile']} (Keras' default)"
        print(line)


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
    parser.add_argument("--configs", default="char,word")
    parser.add_argument("--methods", default=",".join(METHODS))
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
        ("seconds", 60.0, 3.0),
        ("scale_seconds", 10.0, 3.0),
        ("fraction", 1.0, 0.125),
        ("scales", "1,4,16", "1,16"),
    ):
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    if args.child:
        child(args)
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
    results = {c: [] for c in configs}
    for config in configs:
        for method in methods:
            r = run_child(args, method, config, args.seconds, 1)
            if r is not None:
                results[config].append(r)
    scaling = []
    if not args.no_scaling and "sklstm" in methods:
        for config in configs:
            for k in scales:
                main_run = [r for r in results[config] if r["method"] == "sklstm"]
                if k == 1 and main_run and args.scale_seconds == args.seconds:
                    scaling.append(main_run[0])  # the same run: reuse it
                    continue
                r = run_child(args, "sklstm", config, args.scale_seconds, k)
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
        f"{peak / 1e9:.1f} GFLOP/s (float32 matmul)"
    )
    for config in configs:
        if results[config]:
            print_config_table(config, results[config], peak)

    classic_runs = [r for c in configs for r in results[c] if r["method"] == "classic"]
    if scaling or classic_runs:
        print(
            f"\n## Memory as the corpus grows (documents repeated; sklstm: "
            f"{args.scale_seconds:g} s of timed training each)\n"
        )
        print_scaling_table(scaling, classic_runs, scales, classic_scaled)
    print(f"\n({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
