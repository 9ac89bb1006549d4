"""Regularisers against overfitting: held-out bits without and with each.

A corpus (``--corpus``, a comma-separated list: ``docs``, the embedded
corpus, ``vim``, Vim's documentation, ``stdlib``, the standard library's
modules; see ``bench_quality.py``) is split into whole documents, 90% for
training and 10% held out (a fixed seed); the held-out documents are used
for nothing but the final measure. One network, big enough for its corpus
to overfit it within minutes (``--level word``: embedding 128, LSTM 256,
windows of 35 words; ``--level char``: two LSTM layers of 512 over windows
of 100 characters), trains for up to ``--epochs`` epochs (30) with 10% of
the training documents for validation and early stopping (patience 3; the
best epoch's weights are kept), once per configuration:

- ``none``: no regulariser;
- ``dropout``: ``dropout`` after each LSTM layer (the existing one);
- ``weight_dropout``, ``embedding_dropout``, ``tie_weights``: each alone;
- ``all``: the three new ones and ``dropout`` together, AWD-LSTM's
  combination.

``--rates`` sets the rates (``dropout=0.3,weight_dropout=0.3,
embedding_dropout=0.1``), ``--configs`` chooses configurations,
``--params key=value ...`` overrides the network's parameters for all, and
``--sequencer key=value ...`` sets the sequencer's. At word level, pass
``--sequencer min_frequency=2``: with every training word in the
vocabulary, the model never sees the unknown-word id in training, gives it
almost no probability, and each new word of the held-out documents then
costs a great many bits, which swamps the measure.
The table gives, per configuration and corpus, the parameters' count, the
epochs run and the best one, the training loss of the last epoch and the
best validation loss (nats per token, with dropped weights in training),
and the held-out measure: bits per token (``-score / ln 2``) and bits per
character (:func:`sklstm.bits_per_character`). Lower is better.

Run from the repository root (``--quick``: the first 1,500 characters of
each document, LSTM 64, 3 epochs; a few minutes)::

    TF_CPP_MIN_LOG_LEVEL=2 .venv/bin/python benchmarks/bench_regularisation.py
    TF_CPP_MIN_LOG_LEVEL=2 .venv/bin/python benchmarks/bench_regularisation.py \\
        --corpus docs,vim --level char --epochs 20
    TF_CPP_MIN_LOG_LEVEL=2 .venv/bin/python benchmarks/bench_regularisation.py --quick

Everything is seeded; nothing is downloaded and nothing is written.
"""

from __future__ import annotations

import argparse
import ast
import math
import os
import time

import _common as common

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

NETWORKS = {
    "word": dict(embedding_dim=128, units=256, sequence_length=35, batch_size=32),
    "char": dict(embedding_dim=64, units=(512, 512), sequence_length=100),
}
QUICK = dict(embedding_dim=32, units=64, sequence_length=20, batch_size=32)
RATES = {"dropout": 0.3, "weight_dropout": 0.3, "embedding_dropout": 0.1}
# The estimator's "auto" rates off: each configuration adds its own.
NO_REGULARISER = {"dropout": 0.0, "weight_dropout": 0.0}


def configurations(rates):
    """Name -> the parameters that configuration adds."""
    return {
        "none": {},
        "dropout": {"dropout": rates["dropout"]},
        "weight_dropout": {"weight_dropout": rates["weight_dropout"]},
        "embedding_dropout": {"embedding_dropout": rates["embedding_dropout"]},
        "tie_weights": {"tie_weights": True},
        "all": {**rates, "tie_weights": True},
    }


def parse_pairs(text, what):
    """``"a=1,b=x"`` or ``["a=1", "b=x"]`` -> ``{"a": 1, "b": "x"}``."""
    items = text.split(",") if isinstance(text, str) else text
    out = {}
    for item in items or ():
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"{what} takes key=value items; got {item!r}")
        try:
            out[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key] = value
    return out


def fit_one(level, train, test, params, seed, sequencer=None):
    """Train one configuration; its row of measures."""
    import sklstm
    from sklstm import LSTMTextGenerator, TextSequencer

    model = LSTMTextGenerator(
        sequencer=TextSequencer(level=level, **(sequencer or {})),
        validation_fraction=0.1,
        early_stopping=True,
        n_iter_no_change=3,
        random_state=seed,
        **params,
    )
    start = time.perf_counter()
    model.fit(train)
    seconds = time.perf_counter() - start
    history = model.history_
    return {
        "params": model.model_.count_params(),
        "epochs": f"{model.n_epochs_} ({model.best_epoch_ + 1})",
        "train": history["loss"][-1],
        "val": min(history.get("val_loss", [math.nan])),
        "bits_token": -model.score(test) / math.log(2),
        "bits_char": sklstm.bits_per_character(model, test),
        "seconds": seconds,
    }


def formatted(row):
    """A row of :func:`fit_one` as the table's cells."""
    return [
        f"{row['params']:,}",
        row["epochs"],
        *(f"{row[key]:.3f}" for key in ("train", "val", "bits_token", "bits_char")),
        f"{row['seconds']:.0f}",
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="docs", help="comma-separated corpora")
    parser.add_argument("--level", default="word", choices=sorted(NETWORKS))
    parser.add_argument("--epochs", type=int, help="most epochs (30; quick 3)")
    parser.add_argument("--configs", help="comma-separated configurations (all)")
    parser.add_argument("--rates", default="", help="e.g. weight_dropout=0.5")
    parser.add_argument("--params", nargs="*", default=[], metavar="KEY=VALUE")
    parser.add_argument(
        "--sequencer",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="TextSequencer parameters (e.g. min_frequency=2, so that the "
        "model learns how likely an unknown word is)",
    )
    parser.add_argument("--max-chars", type=int, help="cut each document")
    parser.add_argument("--corpus-chars", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.quick:
        args.max_chars = args.max_chars or 1500
    epochs = args.epochs or (3 if args.quick else 30)
    rates = {**RATES, **parse_pairs(args.rates, "--rates")}
    configs = configurations(rates)
    chosen = args.configs.split(",") if args.configs else list(configs)
    unknown = sorted(set(chosen) - set(configs))
    if unknown:
        parser.error(f"unknown configurations {unknown}; choose from {list(configs)}")
    network = QUICK if args.quick else NETWORKS[args.level]
    network = {**network, "epochs": epochs, **parse_pairs(args.params, "--params")}

    for line in common.describe_run():
        print(line)
    sequencer = parse_pairs(args.sequencer, "--sequencer")
    print(
        f"Network ({args.level} level): {network}; sequencer: {sequencer}; "
        f"rates: {rates}"
    )
    rows = []
    for corpus in args.corpus.split(","):
        docs = common.load_named_corpus(corpus, args.corpus_chars)
        if args.max_chars:
            docs = [d[: args.max_chars] for d in docs]
        train, test = common.split_documents(docs, 0.1, 0)
        print(
            f"Corpus {corpus}: {common.CORPORA[corpus]}; {len(train)} training "
            f"documents ({sum(map(len, train)):,} characters), {len(test)} held "
            f"out ({sum(map(len, test)):,} characters)",
            flush=True,
        )
        for name in chosen:
            row = fit_one(
                args.level,
                train,
                test,
                {**network, **NO_REGULARISER, **configs[name]},
                args.seed,
                sequencer,
            )
            rows.append([corpus, name, *formatted(row)])
            print(f"  {name}: {row}", flush=True)
    print()
    common.print_table(
        [
            "corpus",
            "configuration",
            "parameters",
            "epochs (best)",
            "train loss",
            "best val loss",
            "held-out bits/token",
            "held-out bits/char",
            "seconds",
        ],
        rows,
        align="llrrrrrrr",
    )


if __name__ == "__main__":
    main()
