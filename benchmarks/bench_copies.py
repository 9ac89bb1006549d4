"""The copied-text index: build and query times on 1 MB and 10 MB corpora.

The corpus is the Python standard library's own ``.py`` files (each file one
document), read in sorted order until the wanted size. For each size it
builds a :class:`sklstm.metrics.CopyIndex` (``--repeats`` times, the median
and range printed) and checks three sets of texts against it:

* ``patchwork``: ``--texts`` texts of about 2,000 characters, each two
  excerpts of the corpus (500 to 1,000 characters) between random letters:
  what a model that replays its training set writes;
* ``random``: texts of random letters and spaces of the same total size
  (grams found nowhere: one binary search each);
* ``repetitive``: one run of 5,000 spaces and one of 5,000 ``#``, the
  worst case found (every position starts a copy; Python code is full of
  shorter such runs).

Run::

    python benchmarks/bench_copies.py                 # 1 and 10 MB
    python benchmarks/bench_copies.py --megabytes 1   # quick
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import sysconfig
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as common  # noqa: E402

from sklstm.metrics import CopyIndex, copied_text  # noqa: E402


def stdlib_corpus(n_chars):
    """Documents (whole files) of the standard library's source, in sorted
    order, until ``n_chars`` characters (the last one cut)."""
    root = Path(sysconfig.get_paths()["stdlib"])
    docs, size = [], 0
    for path in sorted(root.rglob("*.py")):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        docs.append(text[: n_chars - size])
        size += len(docs[-1])
        if size >= n_chars:
            break
    return docs


def patchwork(docs, n_texts, rng):
    """Texts made of two corpus excerpts each, between random letters."""
    long_docs = [d for d in docs if len(d) > 2000]
    texts = []
    for _ in range(n_texts):
        parts = [_noise(rng, 200)]
        for _ in range(2):
            doc = rng.choice(long_docs)
            start = rng.randrange(len(doc) - 1000)
            parts += [doc[start : start + rng.randint(500, 1000)], _noise(rng, 200)]
        texts.append("".join(parts))
    return texts


def _noise(rng, n):
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz ") for _ in range(n))


def timed(function, repeats):
    """(median seconds, min, max, last result)."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times), max(times), result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megabytes", type=float, nargs="+", default=[1, 10])
    parser.add_argument("--min-chars", type=int, default=50)
    parser.add_argument("--texts", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    for line in common.describe_run():
        print(line)
    rng = random.Random(0)
    rows = []
    for megabytes in args.megabytes:
        docs = stdlib_corpus(int(megabytes * 1_000_000))
        n_chars = sum(len(d) for d in docs)
        build, low, high, index = timed(
            lambda docs=docs: CopyIndex(docs, min_chars=args.min_chars), args.repeats
        )
        memory = index.nbytes / 1e6
        rows.append(
            [f"{n_chars / 1e6:.1f} M chars, {len(docs):,} files", "build", "", "",
             f"{build:.2f} ({low:.2f}-{high:.2f})", "", f"{memory:.0f} MB index"]
        )  # fmt: skip
        texts = patchwork(docs, args.texts, rng)
        size = sum(len(t) for t in texts)
        queries = [
            ("patchwork", texts),
            ("random", [_noise(rng, len(t)) for t in texts]),
            ("repetitive", [" " * 5000, "#" * 5000]),
        ]
        for name, batch in queries:
            size = sum(len(t) for t in batch)
            seconds, low, high, report = timed(
                lambda batch=batch, index=index: copied_text(
                    batch, index, min_chars=args.min_chars
                ),
                args.repeats,
            )
            rows.append(
                ["", name, f"{len(batch):,} x {size // len(batch):,}",
                 f"{report['copied_fraction']:.3f}",
                 f"{seconds:.3f} ({low:.3f}-{high:.3f})",
                 f"{size / seconds / 1e3:,.0f}",
                 f"{len(report['spans']):,} spans, longest {report['longest_copy']:,}"]
            )  # fmt: skip
    header = ["corpus", "step", "texts x chars", "copied", "seconds (range)",
              "k chars/s", "notes"]  # fmt: skip
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print()
    for row in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
