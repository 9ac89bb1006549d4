"""``sklstm plot``: save a model's learning curves as an image."""

from __future__ import annotations

import argparse

from sklstm.cli._shared import (
    UserError,
    add_model_argument,
    check_output_path,
    fitted_model,
    load_model,
    print_out,
)

_PLOT_EPILOG = """\
The figure shows the training and validation loss of every epoch, in nats
(left axis) and bits (right axis: bits per character at char level, per
token otherwise), and marks the best epoch. It needs matplotlib:
pip install "sklstm[plot]".

examples:
  sklstm plot model.sklstm -o curves.png
  sklstm plot model.sklstm -o curves.svg
"""


def add_plot_parser(subparsers):
    p = subparsers.add_parser(
        "plot",
        help="save the learning curves of a model as an image",
        description="Plot a model's loss per epoch and save the figure.",
        epilog=_PLOT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_model_argument(p)
    p.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        default="learning_curves.png",
        help="image file; its suffix picks the format, such as .png, .svg or "
        ".pdf (default: %(default)s)",
    )
    p.set_defaults(func=cmd_plot)
    return p


def cmd_plot(args):
    try:
        from sklstm.plotting import _import_figure, plot_history

        _import_figure()
    except ImportError as exc:
        raise UserError(str(exc)) from None
    check_output_path(args.output)
    fitted = load_model(args.model, args.trust_pickle)
    model = fitted_model(fitted, "plot").generator
    plot_history(fitted, args.output)
    n = len(model.history_.get("loss", []))
    print_out(
        f"Saved the learning curves of {n} epoch{'s' if n != 1 else ''} "
        f"(best: epoch {model.best_epoch_ + 1}) to {args.output}"
    )
    return 0
