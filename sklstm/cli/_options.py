"""Argument types, library defaults and the options of ``train``, as one table."""

from __future__ import annotations

import argparse
import dataclasses
import re

from sklstm.cli._quiet import quiet_tensorflow
from sklstm.cli._shared import UserError

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\"}

try:
    from sklstm.sequencer import LEVELS
except ImportError:  # a sequencer without the list of its levels
    LEVELS = ("char", "word")


def _int_or_none(text):
    if text.strip().lower() == "none":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an integer or 'none', got {text!r}"
        ) from None


def _rate_or_auto(text):
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a rate such as 0.25, or 'auto', got {text!r}"
        ) from None


def _units(text):
    """``256`` -> 256, ``256,128`` -> (256, 128)."""
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an integer or comma-separated integers such as 256,256; "
            f"got {text!r}"
        ) from None
    return values[0] if len(values) == 1 else values


def temperature_option(text):
    """``0.7`` -> 0.7, ``1.0,0.5`` -> [1.0, 0.5] (one value per new token)."""
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number or comma-separated numbers; got {text!r}"
        ) from None
    return values[0] if len(values) == 1 else values


def unescape(text):
    r"""Turn ``\n``, ``\t``, ``\r`` and ``\\`` into the characters they name."""
    return re.sub(r"\\([ntr\\])", lambda m: _ESCAPES[m.group(1)], text)


def library_defaults():
    """Defaults of LSTMTextGenerator and of the generation controls."""
    quiet_tensorflow()
    from sklstm import LSTMTextGenerator, TextSequencer
    from sklstm._generation import check_controls

    params = LSTMTextGenerator().get_params()
    for key, value in TextSequencer().get_params().items():
        params.setdefault(f"sequencer__{key}", value)
    controls = dict(check_controls.__kwdefaults__)
    controls.pop("where", None)
    return params, controls


def format_default(value):
    if value is None:
        return "none"
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return str(value)


@dataclasses.dataclass(frozen=True)
class Option:
    """One option of ``sklstm train``: a row of :data:`TRAIN_OPTIONS`.

    ``flags``: the flag, or a tuple of them; ``param``: the estimator
    parameter it sets (``None`` for options of the command itself); ``help``
    without its default, which is added: the estimator's own default for a
    parameter, else ``default``, or the text ``shown``. An ``optional``
    parameter is passed only when given, and refused when the estimator
    lacks it; a ``flag`` takes no value.
    """

    flags: str | tuple
    param: str | None
    help: str
    type: object = None
    metavar: str | None = None
    choices: tuple | None = None
    default: object = None
    shown: str | None = None
    optional: bool = False
    flag: bool = False

    @property
    def names(self):
        return (self.flags,) if isinstance(self.flags, str) else self.flags

    @property
    def dest(self):
        return self.names[-1].lstrip("-").replace("-", "_")

    def add_to(self, parser, params):
        """Add the option to ``parser``; ``params``: the estimator defaults,
        or None when they were not looked up."""
        if self.flag:
            parser.add_argument(*self.names, action="store_true", help=self.help)
            return
        if self.param is None or self.optional:
            default = self.default
            shown = "%(default)s" if self.shown is None else self.shown
        elif params is None:
            default, shown = None, "see LSTMTextGenerator"
        else:
            default = params.get(self.param)
            shown = format_default(default)
        kw = {"type": self.type, "metavar": self.metavar, "choices": self.choices}
        parser.add_argument(
            *self.names,
            default=default,
            help=f"{self.help} (default: {shown})",
            **{k: v for k, v in kw.items() if v is not None},
        )


# The options of ``sklstm train``, in the order --help lists them. An option
# that sets an estimator parameter is one row here: the parser and the
# parameters given to the estimator are built from this table.
TRAIN_OPTIONS = (
    Option("--pattern", None, "file name pattern in folders", metavar="GLOB",
           default="*.txt"),
    Option("--stream", None, "read the files piece by piece and train from "
           "their ids on disk (each file one document; for corpora larger than "
           "memory)", flag=True),
    Option("--level", "sequencer__level", "token unit", choices=LEVELS),
    Option("--max-words", "sequencer__max_words", "char and word level: "
           "vocabulary size, reserved ids included; the most frequent tokens "
           "are kept", _int_or_none, "N"),
    Option("--vocab-size", "sequencer__vocab_size", "subword level: most "
           "tokens, the 3 reserved ids and the 256 bytes included, so at least "
           "259; none: 1000", _int_or_none, "N"),
    Option("--embedding-dim", "embedding_dim", "embedding size", int, "N"),
    Option("--units", "units", "LSTM units; comma-separated values stack "
           "layers, e.g. 256,256", _units, "N[,N...]"),
    Option("--dense-units", "dense_units", "units of a relu Dense layer before "
           "the output, or none", _int_or_none, "N"),
    Option("--dropout", "dropout", "dropout on each LSTM layer's outputs; "
           "auto: none up to 15 epochs, rising to 0.3 at 40", _rate_or_auto,
           "RATE"),
    Option("--weight-dropout", "weight_dropout", "DropConnect on each LSTM's "
           "recurrent kernel, one mask per batch (AWD-LSTM); auto: none up to "
           "10 epochs, rising to 0.25 at 30", _rate_or_auto, "RATE"),
    Option("--embedding-dropout", "embedding_dropout", "drop whole vocabulary "
           "entries of the embedding in each batch", float, "RATE"),
    Option("--tie-weights", "tie_weights", "the output layer shares the "
           "embedding matrix (fewer parameters for word and subword models)",
           flag=True),
    Option("--sequence-length", "sequence_length", "tokens per training window",
           int, "N"),
    Option("--batch-size", "batch_size", "windows per batch", int, "N"),
    Option("--epochs", "epochs", "most epochs; training stops earlier when the "
           "validation loss stops improving; none: until --max-time runs out",
           _int_or_none, "N"),
    Option("--learning-rate", "learning_rate", "Adam learning rate", float,
           "RATE"),
    Option("--validation-fraction", "validation_fraction", "fraction held out "
           "for validation: whole documents, or the end of each when there are "
           "too few; 0 trains on everything", float, "FRACTION"),
    Option("--max-time", "max_time", "stop training after about this many "
           "seconds, at the end of a batch, keeping the best weights", float,
           "SECONDS", optional=True, shown="no limit"),
    Option("--training-kernel", "training_kernel", "how the LSTM layers train: "
           "'fused' is sklstm's own CPU kernel, 'keras' Keras' layer (cuDNN on a "
           "GPU), 'auto' the fused kernel on a CPU",
           choices=("auto", "fused", "keras")),
    Option("--random-state", "random_state", "seed for reproducible training",
           int, "SEED"),
    Option(("-o", "--output"), None, "where to save the model; a name ending in "
           ".joblib or .pkl saves with joblib, anything else in the safe format",
           metavar="FILE", default="model.sklstm"),
    Option(("-q", "--quiet"), None, "no progress output (the summary is still "
           "printed)", flag=True),
)  # fmt: skip


def train_params(args, model):
    """The estimator parameters that the options of ``args`` set."""
    supported = model.get_params()
    params = {}
    for option in TRAIN_OPTIONS:
        value = getattr(args, option.dest)
        if option.param is None or (option.optional and value is None):
            continue
        if option.optional and option.param not in supported:
            raise UserError(
                f"{option.names[-1]} is not supported by this version of sklstm "
                f"(LSTMTextGenerator has no {option.param} parameter)"
            )
        params[option.param] = value
    return params
