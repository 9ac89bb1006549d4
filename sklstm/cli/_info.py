"""``sklstm info``: a saved model's parameters, vocabulary and history."""

from __future__ import annotations

import argparse
import json

from sklstm.cli._shared import (
    add_model_argument,
    fitted_model,
    format_table,
    format_value,
    load_model,
    print_out,
)

_INFO_EPILOG = """\
Epochs count from 1, as in the training progress output; the best epoch is
the one whose weights the model holds.

examples:
  sklstm info model.sklstm
  sklstm info model.sklstm --json
"""


def add_info_parser(subparsers):
    p = subparsers.add_parser(
        "info",
        help="parameters, vocabulary and training history of a model",
        description="Describe a saved model.",
        epilog=_INFO_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_model_argument(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_info)
    return p


def describe(fitted):
    """What ``sklstm info`` reports, as plain data."""
    lm = fitted_model(fitted, "info")
    model, sequencer = lm.generator, lm.sequencer
    params = {
        k: v
        for k, v in model.get_params(deep=False).items()
        if k not in ("sequencer", "verbose")
    }
    if sequencer is not None:
        params.update({f"sequencer__{k}": v for k, v in sequencer.get_params().items()})
    history = {k: list(v) for k, v in model.history_.items()}
    return {
        "type": type(fitted).__name__,
        "level": None if sequencer is None else sequencer.level,
        "vocab_size": int(model.vocab_size_),
        "parameters": int(model.model_.count_params()),
        "epochs": int(model.n_epochs_),
        "best_epoch": int(model.best_epoch_) + 1,
        "params": params,
        "history": history,
    }


def _history_table(history, best_epoch):
    order = ["loss", "accuracy", "val_loss", "val_accuracy"]
    keys = [k for k in order if k in history]
    keys += sorted(k for k in history if k not in order)
    n = max((len(v) for v in history.values()), default=0)
    rows = []
    for e in range(n):
        mark = " *" if e + 1 == best_epoch else ""
        cells = [f"{e + 1}{mark}"]
        for key in keys:
            values = history[key]
            cells.append(f"{values[e]:.4f}" if e < len(values) else "")
        rows.append(cells)
    return format_table(rows, header=["epoch", *keys])


def _json_default(value):
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    return repr(value)


def cmd_info(args):
    fitted = load_model(args.model, args.trust_pickle)
    info = describe(fitted)
    if args.json:
        print_out(
            json.dumps({"model": args.model, **info}, indent=2, default=_json_default)
        )
        return 0
    level = info["level"] or "token ids (no sequencer)"
    print_out(f"{args.model}: {info['type']}")
    print_out(
        format_table(
            [
                ["level", level],
                ["vocabulary size", f"{info['vocab_size']:,}"],
                ["network parameters", f"{info['parameters']:,}"],
                ["epochs trained", info["epochs"]],
                ["best epoch", info["best_epoch"]],
            ]
        )
    )
    print_out("\nparameters:")
    print_out(format_table([[k, format_value(v)] for k, v in info["params"].items()]))
    if info["history"]:
        print_out("\nhistory (* marks the best epoch, whose weights the model holds):")
        print_out(_history_table(info["history"], info["best_epoch"]))
    return 0
