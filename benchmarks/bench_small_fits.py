"""Many small fits in one process, as a hyper-parameter search makes them.

A search spends most of its time in fits of small models on a small slice
of text, where a fit's fixed costs (building the network, tracing and
compiling the training step, the first batch) outweigh its arithmetic.
This benchmark fits ``--fits`` (20) models in one process, one after the
other, each a new network of another width (``units`` cycling through
``--units``, 16,24,32,48) so that nothing traced for one serves the next,
and scores each on held-out text, as one cross-validation split does:

- fused and keras-path: ``LSTMTextGenerator(training_kernel=...)``
  ``.fit(train)`` then ``.score(held_out)``, embedding 16, windows of 32,
  batch 32, ``--epochs`` epochs (2), no validation, seeded;
- reference: plain Keras on the same ids (documents joined by
  end-of-document ids, as sklstm trains on them): bench_train's reference
  network, Embedding -> LSTM (return_sequences) -> Dense logits, Adam and
  sparse categorical cross-entropy from logits, ``fit`` on numpy arrays of
  non-overlapping windows of 32 at batch 32 for the same epochs, then
  ``evaluate`` on the held-out windows.

The methods alternate fit by fit. The text is the first ``--docs``
documents (30) of the embedded corpus, cut to ``--chars`` characters each
(2,000), 90% to train on and 10% held out. The table gives each method's
first fit (which also pays the process's first trace of everything) and
the median and spread of the others, in seconds per fit and score, and the
median against the reference's.

Run from the repository root (a few minutes)::

    TF_CPP_MIN_LOG_LEVEL=2 .venv/bin/python benchmarks/bench_small_fits.py

Everything is seeded; nothing is downloaded and nothing is written.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import _common as common

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

METHODS = ("reference", "keras-path", "fused")
EMBEDDING, WINDOW, BATCH = 16, 32, 32


def sklstm_fit(kernel, units, train, test, epochs):
    """Seconds of one estimator fit and score."""
    from sklstm import LSTMTextGenerator

    start = time.perf_counter()
    model = LSTMTextGenerator(
        embedding_dim=EMBEDDING,
        units=units,
        sequence_length=WINDOW,
        batch_size=BATCH,
        epochs=epochs,
        validation_fraction=0,
        training_kernel=kernel,
        random_state=0,
    ).fit(train)
    model.score(test)
    return time.perf_counter() - start


def reference_fit(units, data, epochs):
    """Seconds of one plain Keras build, compile, fit and evaluate."""
    (x, y), (tx, ty), vocab = data
    start = time.perf_counter()
    model = common.reference_model(vocab, EMBEDDING, (units,))
    model.fit(x, y, batch_size=BATCH, epochs=epochs, verbose=0)
    model.evaluate(tx, ty, batch_size=BATCH, verbose=0)
    return time.perf_counter() - start


def reference_data(train, test):
    """The reference's windows, encoded with a char vocabulary of ``train``."""
    from sklstm import TextSequencer

    sequencer = TextSequencer().fit(train)
    streams = (common.join_documents(sequencer.transform(d)) for d in (train, test))
    x_y, test_x_y = (common.reference_windows(s, WINDOW) for s in streams)
    return x_y, test_x_y, sequencer.vocab_size_


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fits", type=int, default=20, help="fits per method")
    parser.add_argument("--units", default="16,24,32,48", help="widths to cycle")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--docs", type=int, default=30)
    parser.add_argument("--chars", type=int, default=2000)
    args = parser.parse_args()

    import sklstm

    docs = [doc[: args.chars] for doc in sklstm.load_python_docs()[: args.docs]]
    train, test = common.split_documents(docs)
    data = reference_data(train, test)
    widths = [int(u) for u in args.units.split(",")]
    seconds = {method: [] for method in METHODS}
    for k in range(args.fits):
        units = widths[k % len(widths)]
        for method in METHODS:
            if method == "reference":
                took = reference_fit(units, data, args.epochs)
            else:
                kernel = "keras" if method == "keras-path" else "fused"
                took = sklstm_fit(kernel, units, train, test, args.epochs)
            seconds[method].append(took)

    print("\n".join(common.describe_run()))
    print(
        f"{args.fits} fits per method of {len(train)} documents "
        f"({sum(map(len, train)):,} characters), {args.epochs} epochs, "
        f"units {args.units}; each fit scored on {len(test)} held-out documents"
    )
    reference = statistics.median(seconds["reference"][1:])
    rows = []
    for method in METHODS:
        rest = seconds[method][1:]
        median = statistics.median(rest)
        rows.append(
            [
                method,
                f"{seconds[method][0]:.2f}",
                f"{median:.2f} ({min(rest):.2f}-{max(rest):.2f})",
                f"{reference / median:.2f}x",
            ]
        )
    header = ("method", "first fit s", "later fits s", "speed x reference")
    common.print_table(header, rows)


if __name__ == "__main__":
    main()
