"""Training on a corpus read from files: streamed from disk against in memory.

Writes a synthetic corpus of about ``--megabytes`` MB of text (the embedded
corpus's documents, shuffled and concatenated into 1 MB files), then trains
the default char model on it in two ways, each in a fresh process:

* ``stream``: ``LSTMTextGenerator(sequencer=TextSequencer(input="filename"))``
  fitted on the file names. The vocabulary is counted in one pass over the
  files, the ids are written to a temporary file, and training windows are
  read from it with ``tf.data``.
* ``memory``: the files read into a list of str first, then
  ``LSTMTextGenerator()`` fitted on that list (ids joined in memory).

For each it prints the peak resident memory of the whole process, the time
spent before the first training batch (reading, vocabulary, encoding) and
training throughput over ``--seconds`` of timed batches. Run::

    python benchmarks/bench_corpus.py                       # 25 and 100 MB
    python benchmarks/bench_corpus.py --megabytes 10 --seconds 10   # quick
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as common  # noqa: E402

RESULT_TAG = common.RESULT_TAG
FILE_CHARS = 1 << 20


def write_corpus(directory, megabytes, seed=0):
    """Write about ``megabytes`` MB of text as ~1 MB files; return their paths."""
    from sklstm import load_python_docs

    docs = load_python_docs()
    rng = np.random.default_rng(seed)
    target = int(megabytes * 2**20)
    written, paths, parts, size = 0, [], [], 0
    while written < target:
        for i in rng.permutation(len(docs)):
            parts.append(docs[i])
            size += len(docs[i]) + 2
            if size >= FILE_CHARS or written + size >= target:
                path = os.path.join(directory, f"part-{len(paths):05d}.txt")
                with open(path, "w", encoding="utf-8", newline="") as handle:
                    handle.write("\n\n".join(parts))
                paths.append(path)
                written += size
                parts, size = [], 0
                if written >= target:
                    break
    return paths


def child(args):
    import keras  # noqa: F401 - imported before measuring, by both methods
    import tensorflow as tf  # noqa: F401

    from sklstm import LSTMTextGenerator, TextSequencer

    paths = sorted(glob.glob(os.path.join(args.directory, "part-*.txt")))
    out = {"method": args.child, "files": len(paths), "level": args.level}
    out["bytes"] = sum(os.path.getsize(p) for p in paths)
    out["rss_import"] = common.rss_now()
    batch_timer, _ = common.keras_callbacks()
    timer = batch_timer(warmup=args.warmup, seconds=args.seconds)
    settings = dict(
        epochs=10**6,
        early_stopping=False,
        validation_fraction=0.0,
        callbacks=[timer],
        random_state=0,
    )
    start = time.perf_counter()
    level = dict(level=args.level)
    if args.level == "word":  # the word configuration of bench_train
        level.update(max_words=10_000)
        settings.update(embedding_dim=100, units=128, dense_units=128)
    if args.child == "stream":
        sequencer = TextSequencer(input="filename", **level)
        model = LSTMTextGenerator(sequencer=sequencer, **settings)
        data = paths
    else:
        data = []
        for path in paths:
            with open(path, encoding="utf-8", newline="") as handle:
                data.append(handle.read())
        model = LSTMTextGenerator(sequencer=TextSequencer(**level), **settings)
    out["read_seconds"] = time.perf_counter() - start
    model.fit(data)
    fit_seconds = time.perf_counter() - start
    out["peak_rss"] = common.peak_rss()
    rec = timer.record
    out.update(rec)
    out["prepare_seconds"] = fit_seconds - rec["train_seconds"]
    out["window"] = model.sequence_length
    out["tokens_per_s"] = (
        rec["timed_rows"] * model.sequence_length / rec["timed_seconds"]
        if rec["timed_seconds"]
        else float("nan")
    )
    out["vocab"] = int(model.vocab_size_)
    widths = (model.units,) if isinstance(model.units, int) else model.units
    units = " + ".join(map(str, widths))
    out["network"] = f"embedding {model.embedding_dim}, LSTM {units}" + (
        f", Dense {model.dense_units}" if model.dense_units else ""
    )
    print(RESULT_TAG + json.dumps(out), flush=True)


def run_child(args, method, directory):
    command = [
        sys.executable,
        os.path.abspath(__file__),
        "--child",
        method,
        "--directory",
        directory,
        "--seconds",
        str(args.seconds),
        "--warmup",
        str(args.warmup),
        "--level",
        args.level,
    ]
    result = common.run_child(command, method)
    if result is None:
        return None
    wall = result["wall"]
    print(
        f"  {common.human_bytes(result['bytes']):>9} {method:<6} "
        f"{result['tokens_per_s']:>9,.0f} tokens/s, peak "
        f"{common.mb(result['peak_rss'])} MB ({wall:.0f} s)",
        flush=True,
    )
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--megabytes",
        default="25,100",
        help="comma-separated corpus sizes in MB (default: 25,100)",
    )
    parser.add_argument(
        "--methods",
        default="stream,memory",
        help="comma-separated: stream, memory (default: both)",
    )
    parser.add_argument(
        "--seconds", type=float, default=30.0, help="timed training per run"
    )
    parser.add_argument("--warmup", type=int, default=5, help="untimed batches")
    parser.add_argument(
        "--level",
        choices=("char", "word", "subword"),
        default="char",
        help="token level: char (default: the default model), word (10,000 "
        "words, embedding 100, LSTM 128, Dense 128) or subword (1,000 tokens)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--directory", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    sizes = [float(x) for x in args.megabytes.split(",")]
    methods = [m.strip() for m in args.methods.split(",")]
    print("\n".join(common.describe_run()), flush=True)
    results = []
    for size in sizes:
        directory = tempfile.mkdtemp(prefix="sklstm-bench-corpus-")
        try:
            write_corpus(directory, size)
            for method in methods:
                result = run_child(args, method, directory)
                if result is not None:
                    results.append(result)
        finally:
            shutil.rmtree(directory, ignore_errors=True)

    print()
    model = {
        "char": "Default char model (",
        "word": "Word model (10,000 words, ",
        "subword": "Subword model (1,000 tokens, ",
    }[args.level] + (results[0]["network"] if results else "the default network")
    print(
        f"{model}, batch 64, window 100), {args.seconds:g} s of timed training "
        "each, validation_fraction=0."
    )
    print(
        "Peak is the whole process's peak resident memory; before training is "
        "the time\nfrom the start of reading (memory) or fit (stream) to the "
        "first batch."
    )
    print()
    header = (
        "| corpus | method | peak RSS | after import | before training "
        "| tokens/s | vs memory |"
    )
    print(header)
    print("|---|---|---:|---:|---:|---:|---:|")
    for r in results:
        same = [
            x for x in results if x["bytes"] == r["bytes"] and x["method"] == "memory"
        ]
        speed = f"{r['tokens_per_s'] / same[0]['tokens_per_s']:.2f}x" if same else "-"
        print(
            f"| {common.human_bytes(r['bytes'])} in {r['files']} files "
            f"| {r['method']} | {common.mb(r['peak_rss'])} MB "
            f"| {common.mb(r['rss_import'])} MB "
            f"| {r['prepare_seconds']:.1f} s "
            f"| {r['tokens_per_s']:,.0f} | {speed} |"
        )


if __name__ == "__main__":
    main()
