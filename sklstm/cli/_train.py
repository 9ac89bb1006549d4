"""``sklstm train``: fit a model on text files or the embedded corpus and save it."""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
import warnings

from sklstm.cli._options import TRAIN_OPTIONS, train_params
from sklstm.cli._shared import (
    PICKLE_SUFFIXES,
    UsageError,
    check_output_path,
    find_files,
    print_error,
    print_out,
    read_documents,
)

_TRAIN_EPILOG = """\
Documents: each file is one document; when the input is exactly one file,
it is split into documents at blank lines (paragraphs), so that whole
documents can be held out for validation. Without PATHS, sklstm trains on
the embedded corpus (the documentation topics every Python ships).
With --stream, each file is one document, read piece by piece: the ids go
to a temporary file and training reads its windows from there, so memory
does not grow with the corpus (for corpora larger than memory).

Progress: a Keras progress bar on a terminal, one line per epoch otherwise,
nothing with --quiet. Ctrl-C stops training and still saves the model, with
the weights of the best finished epoch.

examples:
  sklstm train                                  # embedded corpus, defaults
  sklstm train books/ --pattern '*.md' --epochs 20 -o books.sklstm
  sklstm train notes.txt --level word --units 128,128 --dense-units 128
  sklstm train books/ --level subword --vocab-size 2000 --sequence-length 50
  sklstm train big_corpus/ --stream --max-time 3600 --epochs none
"""


def add_train_parser(subparsers, lib):
    p = subparsers.add_parser(
        "train",
        help="train a model on text files or the embedded corpus",
        description="Train an LSTM language model on text and save it.",
        epilog=_TRAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="text files or folders (searched recursively); none: the embedded corpus",
    )
    params = lib[0] if lib else None
    for option in TRAIN_OPTIONS:
        option.add_to(p, params)
    p.set_defaults(func=cmd_train)
    return p


def _save(model, path):
    if path.lower().endswith(PICKLE_SUFFIXES):
        import joblib

        joblib.dump(model, path)
    else:
        model.save(path)


def _train_summary(model, seconds, path):
    n = model.n_epochs_
    lines = [
        f"Trained {n} epoch{'s' if n != 1 else ''} in {seconds:.1f} s; the "
        f"model holds the weights of epoch {model.best_epoch_ + 1}."
    ]
    history = model.history_
    best = model.best_epoch_
    level = model.sequencer_.level if model.sequencer_ is not None else None
    for key, name in (("val_loss", "Validation"), ("loss", "Training")):
        values = history.get(key)
        if values and 0 <= best < len(values):
            loss = values[best]
            extra = (
                f", {loss / math.log(2):.4f} bits per character"
                if level == "char"
                else f", perplexity {math.exp(min(loss, 700)):.2f} per token"
            )
            lines.append(f"{name} loss: {loss:.4f} nats per token{extra}.")
            break
    lines.append(f"Saved to {path}")
    return "\n".join(lines)


def _training_documents(args):
    """The documents to train on, and a description of where from."""
    from sklstm import load_python_docs

    if args.stream:
        if not args.paths:
            raise UsageError("--stream reads files: give them as PATH arguments")
        docs = find_files(args.paths, args.pattern)
        return docs, f"{len(docs)} file{'s' if len(docs) != 1 else ''}, streamed"
    if args.paths:
        return read_documents(args.paths, args.pattern)
    return load_python_docs(), "the embedded corpus (Python docs)"


def _announce(args, docs, where):
    """The line that says what training reads (not with --quiet)."""
    if args.quiet:
        return
    if args.stream:
        size = sum(os.path.getsize(path) for path in docs)
        print_out(f"Training on {size:,} bytes of text from {where}.")
    else:
        chars = sum(len(doc) for doc in docs)
        print_out(
            f"Training on {len(docs)} documents ({chars:,} characters) from {where}."
        )
    sys.stdout.flush()


def cmd_train(args):
    from sklstm import LSTMTextGenerator

    docs, where = _training_documents(args)
    check_output_path(args.output)
    if args.quiet:
        verbose = 0
    else:
        verbose = 1 if sys.stdout.isatty() else 2
    model = LSTMTextGenerator()
    params = train_params(args, model)
    params["verbose"] = verbose
    if args.stream:
        params["sequencer__input"] = "filename"
    model.set_params(**params)
    _announce(args, docs, where)

    interrupted = []
    show = warnings.showwarning

    def watch(message, category, *rest, **kw):
        if "interrupted" in str(message).lower():
            interrupted.append(message)
        show(message, category, *rest, **kw)

    start = time.perf_counter()
    warnings.showwarning = watch
    try:
        model.fit(docs)
    except KeyboardInterrupt:
        print_error(
            "train", "error", "interrupted before training started; nothing saved"
        )
        return 130
    finally:
        warnings.showwarning = show
    seconds = time.perf_counter() - start
    if interrupted and model.n_epochs_ == 0:
        print_error(
            "train", "error", "interrupted before an epoch finished; nothing saved"
        )
        return 130
    _save(model, args.output)
    if interrupted:
        print_error(
            "train",
            "warning",
            f"training was interrupted; the model (weights of epoch "
            f"{model.best_epoch_ + 1}) was saved to {args.output}",
        )
    print_out(_train_summary(model, seconds, args.output))
    return 0
