"""The ``sklstm`` command: train, generate, evaluate and inspect models.

``sklstm train`` fits an :class:`~sklstm.LSTMTextGenerator` on text files (or
the embedded corpus) and saves it; ``sklstm generate`` continues a prompt,
streaming, or step by step with ``--interactive``; ``sklstm evaluate``
measures bits per character and perplexity on held-out text; ``sklstm info``
shows a model's parameters and training history; ``sklstm serve`` serves a
model over HTTP with an OpenAI-compatible API and a playground page.

Run ``sklstm COMMAND --help`` for the options of each command. :func:`main`
is the entry point of both the console script and ``python -m sklstm``.
"""

from __future__ import annotations

import argparse
import dataclasses
import fnmatch
import json
import math
import os
import re
import sys
import tempfile
import time
import warnings

PROG = "sklstm"
COMMANDS = ("train", "generate", "evaluate", "info", "plot", "serve")
PICKLE_SUFFIXES = (".joblib", ".pkl", ".pickle")
# Characters of the current text shown at each step of --interactive.
SHOWN_CHARS = 400
EOD_LABEL = "<end of document>"
# Line breaks between paragraphs: a newline, then one or more blank lines.
_PARAGRAPH_BREAK = re.compile(r"\n(?:[ \t\f\v\r]*\n)+")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\"}
# A line of TensorFlow's C++ log: severity letter, date, time, thread, file.
_TF_LOG_LINE = re.compile(rb"([IWEF])\d{4} [\d:.]+ +\d+ \S+:\d+\] ")
_TF_SEVERITY = {b"I": 0, b"W": 1, b"E": 2, b"F": 3}
_ABSL_PREAMBLE = b"WARNING: All log messages before absl::InitializeLog() is called"


try:
    from sklstm.sequencer import LEVELS
except ImportError:  # a sequencer without the list of its levels
    LEVELS = ("char", "word")


class UserError(Exception):
    """A problem with what the user asked for: reported without a traceback."""


class UsageError(Exception):
    """A wrong combination of arguments: exit status 2, as argparse."""


# ----------------------------------------------------------------- helpers
def _out(text="", end="\n"):
    sys.stdout.write(text + end)


def _err(command, kind, message):
    where = PROG if command is None else f"{PROG} {command}"
    sys.stderr.write(f"{where}: {kind}: {message}\n")


def _show_warning(command):
    """A ``warnings.showwarning`` that prints one tidy line per warning."""

    def show(message, category, filename, lineno, file=None, line=None):
        _err(command, "warning", str(message))

    return show


def _tf_log_level():
    """TF_CPP_MIN_LOG_LEVEL as a number (0, everything, when unreadable)."""
    try:
        return int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0"))
    except ValueError:
        return 0


def _kept_log_lines(data, level):
    """The lines of ``data`` (bytes written to stderr) at ``level`` or above."""
    kept = []
    for line in data.splitlines(keepends=True):
        match = _TF_LOG_LINE.match(line)
        if match and _TF_SEVERITY[match.group(1)] < level:
            continue
        if line.startswith(_ABSL_PREAMBLE) and level >= 1:
            continue
        kept.append(line)
    return b"".join(kept)


def quiet_tensorflow():
    """Import TensorFlow without its start-up log lines below the log level.

    ``TF_CPP_MIN_LOG_LEVEL`` is 2 (errors only) unless the user set it.
    TensorFlow writes some lines ("oneDNN custom operations are on", "Could
    not find cuda drivers") before its logging reads that variable, so they
    are caught from the standard error while it loads, and the lines at or
    above the level are written out again.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    level = _tf_log_level()
    if "tensorflow" in sys.modules or level <= 0:
        return
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no standard error to catch
        return
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            kept = _kept_log_lines(caught.read(), level)
            if kept:
                os.write(2, kept)


def _int_or_none(text):
    if text.strip().lower() == "none":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an integer or 'none', got {text!r}"
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


def _temperature(text):
    """``0.7`` -> 0.7, ``1.0,0.5`` -> [1.0, 0.5] (one value per new token)."""
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number or comma-separated numbers; got {text!r}"
        ) from None
    return values[0] if len(values) == 1 else values


def _unescape(text):
    r"""Turn ``\n``, ``\t``, ``\r`` and ``\\`` into the characters they name."""
    return re.sub(r"\\([ntr\\])", lambda m: _ESCAPES[m.group(1)], text)


def _format_value(value):
    if isinstance(value, float):
        return f"{value:.6g}"
    return repr(value) if isinstance(value, str) else str(value)


def _table(rows, header=None):
    """Left-aligned first column, right-aligned others."""
    rows = [[str(c) for c in row] for row in rows]
    if header is not None:
        rows.insert(0, [str(c) for c in header])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])]
        cells += [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        lines.append("  ".join(cells).rstrip())
        if header is not None and n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


# --------------------------------------------------------------- documents
def _find_files(paths, pattern):
    files = []
    for path in paths:
        if os.path.isdir(path):
            found = []
            for root, dirs, names in os.walk(path):
                dirs.sort()
                found += [
                    os.path.join(root, name)
                    for name in sorted(names)
                    if fnmatch.fnmatch(name, pattern)
                ]
            if not found:
                raise UserError(f"no files matching {pattern!r} in folder {path!r}")
            files += found
        elif os.path.isfile(path):
            files.append(path)
        elif os.path.exists(path):
            raise UserError(f"{path!r} is neither a file nor a folder")
        else:
            raise UserError(f"{path!r}: no such file or folder")
    return files


def _read_text(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except UnicodeDecodeError as exc:
        raise UserError(f"{path!r} is not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise UserError(f"cannot read {path!r}: {exc.strerror or exc}") from None


def split_paragraphs(text):
    """Documents of one text: its paragraphs, split at blank lines."""
    parts = (part.strip("\n") for part in _PARAGRAPH_BREAK.split(text))
    return [part for part in parts if part.strip()]


def read_documents(paths, pattern="*.txt"):
    """Documents from files and folders, and a description of where from.

    Each file is one document, except when there is exactly one file: then
    its paragraphs (separated by blank lines) are the documents, so that
    whole documents can still be held out for validation. Documents holding
    only whitespace are dropped.
    """
    files = _find_files(paths, pattern)
    texts = [_read_text(path) for path in files]
    if len(files) == 1:
        docs = split_paragraphs(texts[0])
        where = f"{files[0]} (split into paragraphs at blank lines)"
    else:
        docs = [text for text in texts if text.strip()]
        where = f"{len(files)} files"
    if not docs:
        raise UserError(
            f"no text to use: {'the file' if len(files) == 1 else 'every file'} "
            "is empty or holds only whitespace"
        )
    return docs, where


# ------------------------------------------------------------------ models
def _is_pickle(path):
    """Whether ``path`` holds a joblib/pickle file rather than a zip archive.

    Decided by the first bytes: a pickled Keras model contains a zip archive
    of its own, so checking for a zip anywhere in the file would be fooled.
    """
    with open(path, "rb") as handle:
        head = handle.read(4)
    if head.startswith(b"PK"):
        return False
    return head[:1] == b"\x80" or path.lower().endswith(PICKLE_SUFFIXES)


def load_model(path, trust_pickle=False):
    """Load a saved model: the safe format, or joblib/pickle when trusted."""
    if not os.path.exists(path):
        raise UserError(f"{path!r}: no such file")
    if os.path.isdir(path):
        raise UserError(f"{path!r} is a folder, not a model file")
    quiet_tensorflow()  # before unpickling or loading imports it
    if _is_pickle(path):
        if not trust_pickle:
            raise UserError(
                f"{path!r} is a joblib/pickle file. Loading one runs whatever "
                "code it contains, with your permissions, so sklstm loads it "
                "only with --trust-pickle. Pass --trust-pickle if you made the "
                "file yourself or trust where it came from; to share models, "
                "use the safe format instead (sklstm train -o model.sklstm, or "
                "model.save('model.sklstm') in Python)."
            )
        import joblib

        try:
            return joblib.load(path)
        except Exception as exc:  # noqa: BLE001 - unpickling raises anything
            raise UserError(
                f"could not load {path!r} with joblib: {type(exc).__name__}: {exc}"
            ) from None
    import sklstm

    return sklstm.load(path)


def _fitted(fitted, command, *, text=False):
    """The language model of what a file held (see sklstm._resolve.resolve)."""
    from sklstm._resolve import resolve

    return resolve(fitted, command, text=text, source="the file")


def _join(sequencer, text, addition):
    """``text + addition``, with a space between words at word level."""
    if (
        not text
        or not addition
        or sequencer is None
        or sequencer.level != "word"
        or text[-1].isspace()
        or addition[0].isspace()
    ):
        return text + addition
    first = addition.split()[0]
    joined = sequencer._detokenize([text[-1], first])
    return text + joined[1 : len(joined) - len(first)] + addition


# ---------------------------------------------------------------- defaults
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


def _fmt_default(value):
    if value is None:
        return "none"
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return str(value)


# ------------------------------------------------------------------- parser
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

_INTERACTIVE_HELP = """\
commands:
  NUMBER      append that token
  :g [N]      let the model generate N tokens (default: --max-new-tokens)
  :b, back    undo the last step
  :q, quit    leave (so does end of input)
  :h, help    show this help
  TEXT        append TEXT as typed (at word level, as a new word)
  \\TEXT       append TEXT even if it looks like a command
  (empty)     show the text and the choices again"""

_GENERATE_EPILOG = """\
The prompt is printed, then the continuation as it is produced. A final
line break of a prompt read from a file or standard input is dropped.
Backslash escapes \\n, \\t, \\r and \\\\ in --stop stand for those characters.
With --check-copies, a report follows the text: how much of the generated
text (the prompt left out) lies in copies of at least --min-chars characters
from the corpus, and the longest copies, with where they come from.

--interactive shows the end of the text and the most likely next tokens
with their probabilities, then reads one command per line:
{interactive}

Model files: .sklstm files (sklstm's safe format) load directly. joblib or
pickle files run code when loaded, so they need --trust-pickle.

examples:
  sklstm generate model.sklstm "The " --max-new-tokens 200 --temperature 0.7
  sklstm generate model.sklstm "def " --top-p 0.9 --num-return-sequences 3
  echo "The value" | sklstm generate model.sklstm - --stop '\\n\\n' --seed 0
  sklstm generate model.sklstm "The " --interactive --top-n 5
  sklstm generate model.sklstm "The " --check-copies corpus/ --min-chars 40
""".format(interactive=_INTERACTIVE_HELP.split("\n", 1)[1])

_EVALUATE_EPILOG = """\
Documents are read as by "sklstm train": each file is one document, a
single file is split into paragraphs at blank lines.

Bits per character compare models across tokenisations (char and word
level); perplexity is per token, so it compares models that share a
vocabulary only.

--check-copies CORPUS generates --copy-samples texts and reports how much
of them is copied verbatim from CORPUS (see sklstm.copied_text).

examples:
  sklstm evaluate model.sklstm held_out/
  sklstm evaluate model.sklstm notes.txt --json
  sklstm evaluate model.sklstm held_out/ --check-copies corpus/
"""

_INFO_EPILOG = """\
Epochs count from 1, as in the training progress output; the best epoch is
the one whose weights the model holds.

examples:
  sklstm info model.sklstm
  sklstm info model.sklstm --json
"""


_PLOT_EPILOG = """\
The figure shows the training and validation loss of every epoch, in nats
(left axis) and bits (right axis: bits per character at char level, per
token otherwise), and marks the best epoch. It needs matplotlib:
pip install "sklstm[plot]".

examples:
  sklstm plot model.sklstm -o curves.png
  sklstm plot model.sklstm -o curves.svg
"""


def _add_model_argument(parser):
    parser.add_argument("model", metavar="MODEL", help="a saved model file")
    parser.add_argument(
        "--trust-pickle",
        action="store_true",
        help="allow loading a joblib/pickle file, which runs code: only for "
        "files you made or trust",
    )


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
            shown = _fmt_default(default)
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
    Option("--dropout", "dropout", "dropout after each LSTM layer", float,
           "RATE"),
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


def _add_train_parser(subparsers, lib):
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


def _add_generate_parser(subparsers, lib):
    controls = lib[1] if lib else {}

    def show(name):
        return _fmt_default(controls.get(name)) if lib else "see generate"

    p = subparsers.add_parser(
        "generate",
        help="continue a prompt, or build a text token by token",
        description="Continue a prompt with a trained model.",
        epilog=_GENERATE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_model_argument(p)
    p.add_argument(
        "prompt",
        nargs="?",
        metavar="PROMPT",
        help="text to continue; '-' reads it from standard input (default: "
        "empty, which starts a new document)",
    )
    p.add_argument(
        "--prompt-file", metavar="FILE", help="read the prompt from this file"
    )
    p.add_argument(
        "--max-new-tokens",
        metavar="N",
        type=int,
        help=f"most tokens to generate (default: {show('max_new_tokens')})",
    )
    p.add_argument(
        "--min-new-tokens",
        metavar="N",
        type=int,
        help="end-of-document is banned before this many tokens (default: "
        f"{show('min_new_tokens')})",
    )
    p.add_argument(
        "--temperature",
        metavar="T",
        type=_temperature,
        help="sampling temperature; 0 is greedy (always the most likely "
        "token); comma-separated values give one per new token, the last "
        f"repeating (default: {show('temperature')})",
    )
    p.add_argument(
        "--top-k",
        metavar="K",
        type=int,
        help=f"sample among the K most likely tokens (default: {show('top_k')})",
    )
    p.add_argument(
        "--top-p",
        metavar="P",
        type=float,
        help="nucleus sampling: the most likely tokens holding this much "
        f"probability (default: {show('top_p')})",
    )
    p.add_argument(
        "--repetition-penalty",
        metavar="R",
        type=float,
        help="values above 1 make tokens already in the prompt or output "
        f"less likely (default: {show('repetition_penalty')})",
    )
    p.add_argument(
        "--stop",
        action="append",
        type=_unescape,
        metavar="TEXT",
        help="stop before this text; repeat for several",
    )
    p.add_argument(
        "--no-stop-at-eod",
        dest="stop_at_eod",
        action="store_false",
        default=None,
        help="keep generating after the end-of-document token (by default a "
        "sequence stops there)",
    )
    p.add_argument(
        "-n",
        "--num-return-sequences",
        metavar="N",
        type=int,
        help="continuations of the prompt, printed one after another "
        f"(default: {show('num_return_sequences')})",
    )
    p.add_argument(
        "--seed",
        metavar="SEED",
        type=int,
        help="seed of the sampling: the same seed gives the same text",
    )
    p.add_argument(
        "--no-prompt",
        action="store_true",
        help="print the continuation only, without the prompt",
    )
    p.add_argument(
        "-i",
        "--interactive",
        action="store_true",
        help="choose the text token by token (see below)",
    )
    p.add_argument(
        "--top-n",
        metavar="N",
        type=int,
        default=10,
        help="with --interactive: next tokens shown (default: %(default)s)",
    )
    _add_copies_arguments(p)
    p.set_defaults(func=cmd_generate)
    return p


def _add_copies_arguments(parser, samples=False):
    """Options of the copied-text report (generate, evaluate)."""
    parser.add_argument(
        "--check-copies",
        action="append",
        metavar="CORPUS",
        help="report how much generated text is copied verbatim from the "
        "text files or folders CORPUS (the training text, read as by 'sklstm "
        "train'); repeat for several",
    )
    parser.add_argument(
        "--copies-pattern",
        metavar="GLOB",
        default="*.txt",
        help="file name pattern in --check-copies folders (default: %(default)s)",
    )
    parser.add_argument(
        "--min-chars",
        metavar="N",
        type=int,
        default=50,
        help="shortest copy that counts, in characters (default: %(default)s)",
    )
    if samples:
        parser.add_argument(
            "--copy-samples",
            metavar="N",
            type=int,
            default=4,
            help="with --check-copies: texts generated to check, from an empty "
            "prompt with seed 0 (default: %(default)s)",
        )
        parser.add_argument(
            "--copy-tokens",
            metavar="N",
            type=int,
            default=500,
            help="with --check-copies: most tokens of each (default: %(default)s)",
        )


def _add_evaluate_parser(subparsers):
    p = subparsers.add_parser(
        "evaluate",
        help="bits per character and perplexity on text files",
        description="Measure how well a model predicts held-out text.",
        epilog=_EVALUATE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_model_argument(p)
    p.add_argument("paths", nargs="+", metavar="PATH", help="text files or folders")
    p.add_argument(
        "--pattern",
        metavar="GLOB",
        default="*.txt",
        help="file name pattern in folders (default: %(default)s)",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    _add_copies_arguments(p, samples=True)
    p.set_defaults(func=cmd_evaluate)
    return p


def _add_info_parser(subparsers):
    p = subparsers.add_parser(
        "info",
        help="parameters, vocabulary and training history of a model",
        description="Describe a saved model.",
        epilog=_INFO_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_model_argument(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_info)
    return p


def _add_plot_parser(subparsers):
    p = subparsers.add_parser(
        "plot",
        help="save the learning curves of a model as an image",
        description="Plot a model's loss per epoch and save the figure.",
        epilog=_PLOT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_model_argument(p)
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


def build_parser(command=None):
    """The argument parser.

    The library defaults shown in the help of ``train`` and ``generate``
    need TensorFlow, so they are looked up only when ``command`` is one of
    them; other commands start faster.
    """
    lib = library_defaults() if command in ("train", "generate") else None
    from sklstm import __version__

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Train LSTM text generators, generate text, evaluate and "
        "inspect models.",
        epilog="examples:\n"
        "  sklstm train corpus/ -o corpus.sklstm\n"
        '  sklstm generate corpus.sklstm "The " --temperature 0.7\n'
        "  sklstm evaluate corpus.sklstm held_out/\n"
        "  sklstm info corpus.sklstm\n"
        "  sklstm plot corpus.sklstm -o curves.png\n"
        "  sklstm serve corpus.sklstm --port 8000\n\n"
        "Run 'sklstm COMMAND --help' for the options of a command.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    parser.commands = {
        "train": _add_train_parser(subparsers, lib),
        "generate": _add_generate_parser(subparsers, lib),
        "evaluate": _add_evaluate_parser(subparsers),
        "info": _add_info_parser(subparsers),
        "plot": _add_plot_parser(subparsers),
        "serve": _add_serve_parser(subparsers),
    }
    return parser


# -------------------------------------------------------------------- train
def _check_output(path):
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise UserError(f"output {path!r} is a folder; give a file name")
    if not os.path.isdir(folder):
        raise UserError(f"cannot save to {path!r}: folder {folder!r} does not exist")
    if not os.access(folder, os.W_OK):
        raise UserError(f"cannot save to {path!r}: folder {folder!r} is not writable")


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


def cmd_train(args):
    from sklstm import LSTMTextGenerator, load_python_docs

    if args.stream:
        if not args.paths:
            raise UsageError("--stream reads files: give them as PATH arguments")
        docs = _find_files(args.paths, args.pattern)
        where = f"{len(docs)} file{'s' if len(docs) != 1 else ''}, streamed"
    elif args.paths:
        docs, where = read_documents(args.paths, args.pattern)
    else:
        docs, where = load_python_docs(), "the embedded corpus (Python docs)"
    _check_output(args.output)
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
    if not args.quiet:
        if args.stream:
            size = sum(os.path.getsize(path) for path in docs)
            _out(f"Training on {size:,} bytes of text from {where}.")
        else:
            chars = sum(len(doc) for doc in docs)
            _out(
                f"Training on {len(docs)} documents ({chars:,} characters) "
                f"from {where}."
            )
        sys.stdout.flush()

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
        _err("train", "error", "interrupted before training started; nothing saved")
        return 130
    finally:
        warnings.showwarning = show
    seconds = time.perf_counter() - start
    if interrupted and model.n_epochs_ == 0:
        _err("train", "error", "interrupted before an epoch finished; nothing saved")
        return 130
    _save(model, args.output)
    if interrupted:
        _err(
            "train",
            "warning",
            f"training was interrupted; the model (weights of epoch "
            f"{model.best_epoch_ + 1}) was saved to {args.output}",
        )
    _out(_train_summary(model, seconds, args.output))
    return 0


# ----------------------------------------------------------------- generate
def _read_prompt(args):
    if args.prompt_file is not None:
        if args.prompt is not None:
            raise UsageError("give the prompt as PROMPT or --prompt-file, not both")
        text = _read_text(args.prompt_file)
    elif args.prompt == "-":
        if args.interactive:
            raise UsageError(
                "--interactive reads commands from standard input, so the "
                "prompt cannot come from it; use PROMPT or --prompt-file"
            )
        text = sys.stdin.read()
    else:
        return args.prompt or ""
    return text[:-1] if text.endswith("\n") else text


def _controls(args):
    names = (
        "max_new_tokens",
        "min_new_tokens",
        "temperature",
        "top_k",
        "top_p",
        "repetition_penalty",
        "stop",
        "stop_at_eod",
        "num_return_sequences",
    )
    controls = {n: getattr(args, n) for n in names if getattr(args, n) is not None}
    if args.seed is not None:
        controls["random_state"] = args.seed
    return controls


def cmd_generate(args):
    prompt = _read_prompt(args)
    if args.interactive and args.num_return_sequences not in (None, 1):
        raise UsageError("--interactive builds one text; drop --num-return-sequences")
    if args.top_n < 1:
        raise UsageError(f"--top-n must be at least 1; got {args.top_n}")
    if args.interactive and args.check_copies:
        raise UsageError(
            "--check-copies reports on generated text; not with --interactive"
        )
    corpus = _copies_corpus(args)
    fitted = load_model(args.model, args.trust_pickle)
    lm = _fitted(fitted, "generate", text=True)
    sequencer = lm.sequencer
    controls = _controls(args)
    if args.interactive:
        return interactive(lm, prompt, controls, args)

    import sklstm

    n = controls.get("num_return_sequences", 1)
    echo = "" if args.no_prompt else prompt
    if n == 1:
        pieces = sklstm.stream(fitted, prompt, **controls)
        texts = [pieces]
    else:
        texts = sklstm.generate(fitted, prompt, **controls)
    generated = [[] for _ in range(n)]  # the pieces printed, per sequence
    for i, text in enumerate(texts):
        if n > 1:
            _out(f"{'' if i == 0 else chr(10)}--- sequence {i + 1} of {n} ---")
        sys.stdout.write(echo)
        sys.stdout.flush()
        last, first = echo, True
        for piece in [text] if isinstance(text, str) else text:
            if not piece:
                continue
            if first:  # a space between words, if needed
                piece = _join(sequencer, echo, piece)[len(echo) :]
                first = False
            sys.stdout.write(piece)
            sys.stdout.flush()
            last = piece
            generated[i].append(piece)
        if last and not last.endswith("\n"):
            sys.stdout.write("\n")
        sys.stdout.flush()
    if corpus is not None:
        texts = ["".join(pieces) for pieces in generated]
        report = check_copies(texts, corpus[0], args.min_chars)
        _out(f"\ncopied text: {_copies_summary(report, corpus[1])}")
        _out(_copies_table(report, "sequence"))
    return 0


def _can_write(text):
    try:
        text.encode(getattr(sys.stdout, "encoding", None) or "ascii")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def _token_label(token):
    """A token as shown: quoted when it has whitespace at an edge, is
    empty or holds characters that do not print."""
    if not token or token != token.strip() or not token.isprintable():
        return repr(token)
    return token


def _bytes_label(sequencer, token_id):
    """``<bytes C3>``: a subword token that is only part of a character."""
    try:
        from sklstm.sequencer import _BYTE_OF_CHAR
    except ImportError:  # pragma: no cover - a sequencer without the table
        return "<part of a character>"
    tokens = {i: tok for tok, i in sequencer.vocabulary_.items()}
    data = bytes(_BYTE_OF_CHAR.get(c, 0x3F) for c in tokens.get(token_id, ""))
    return f"<bytes {data.hex(' ').upper()}>"


class _Text:
    """The text of ``--interactive``: a tuple of parts, each a text typed
    (or the prompt) with its ids, or ids of tokens picked from the choices.

    The model reads the ids of every part in order. The text shown is the
    typed parts as typed, and each run of picked ids decoded as a whole, so
    that tokens that are only parts of one character (at subword level) add
    up to that character.
    """

    def __init__(self, encode, decode, sequencer):
        self.encode, self.decode, self.sequencer = encode, decode, sequencer

    def typed(self, text):
        """The part for typed text; ValueError when it cannot be encoded."""
        return (text, tuple(int(i) for i in self.encode([text])[0]))

    @staticmethod
    def picked(parts, token_id):
        """``parts`` with a picked token appended to its trailing run."""
        if parts and parts[-1][0] is None:
            return (*parts[:-1], (None, (*parts[-1][1], token_id)))
        return (*parts, (None, (token_id,)))

    def ids(self, parts):
        import numpy as np

        return np.array([i for _, ids in parts for i in ids], dtype=np.int32)

    def run_text(self, ids):
        import numpy as np

        return self.decode([np.array(ids, dtype=np.int32)])[0] if ids else ""

    def text(self, parts):
        text = ""
        for typed, ids in parts:
            piece = self.run_text(ids) if typed is None else typed
            text = _join(self.sequencer, text, piece)
        return text


def interactive(lm, prompt, controls, args):
    """Build a text step by step: a person picks tokens, types or generates.

    ``lm`` is the language model found by ``sklstm._resolve.resolve``.
    """
    return Interactive(lm, prompt, controls, args).run()


class Interactive:
    """The session of ``generate --interactive``: one method per command.

    ``steps`` is the history of (parts, ended) states, the last one
    current, so that ``:b`` can undo; ``choices`` are the token ids shown
    with their numbers.
    """

    ENDED = "The document has ended: :b goes back, :q leaves.\n"

    def __init__(self, lm, prompt, controls, args):
        import numpy as np

        self.lm, self.top_n, self.controls = lm, args.top_n, dict(controls)
        self.rng = np.random.RandomState(self.controls.pop("random_state", None))
        self.controls.pop("num_return_sequences", None)
        self.default_n = self.controls.pop("max_new_tokens", None)
        self.doc = _Text(lm.encode, lm.decode, lm.sequencer)
        sequencer = lm.sequencer
        self.subword = sequencer is not None and sequencer.level == "subword"
        self.steps = [((self.doc.typed(prompt),) if prompt else (), False)]
        self.choices = []
        self.out = sys.stdout
        self.ellipsis, self.cursor = (
            ("\u2026", "\u258c") if _can_write("\u2026\u258c") else ("...", "|")
        )
        # Command word -> method. Numbers, other words starting with ':' and
        # text are handled by :meth:`command`.
        self.commands = {
            ":q": self.quit,
            "quit": self.quit,
            ":h": self.help,
            "help": self.help,
            "": self.again,
            ":b": self.back,
            "back": self.back,
            ":g": self.generate,
        }

    # Commands that take an argument, and those that extend the text (not
    # after the end of the document).
    WITH_ARGUMENT = frozenset({":g"})
    EXTENDING = frozenset({":g"})

    # ------------------------------------------------------------ the loop
    def run(self):
        """Read commands until :q or the end of input; 0."""
        self.choices = self.show()
        while True:
            self.out.write("> ")
            self.out.flush()
            line = sys.stdin.readline()
            if not line:
                self.out.write("\n")
                break
            line = line.rstrip("\r\n")
            if self.command(line) == "leave":
                break
        self.out.write(f"\n--- final text ---\n{self.doc.text(self.steps[-1][0])}\n")
        self.out.flush()
        return 0

    def command(self, line):
        """Carry out one line; ``"leave"`` when the session ends."""
        command = line.strip()
        found = re.fullmatch(r"(\S*)(?:\s+(\S+))?", command)
        word, arg = found.groups() if found else (None, None)
        ended = self.steps[-1][1]
        if word in self.commands and (arg is None or word in self.WITH_ARGUMENT):
            if not (ended and word in self.EXTENDING):
                return self.commands[word](arg)
        elif not ended and command.isdigit():
            return self.pick(int(command))
        elif not ended and command.startswith(":"):
            self.out.write(
                f"Unknown command {command!r}: :h lists the commands; "
                f"\\{command} appends the text.\n"
            )
            return None
        elif not ended:
            return self.type(line[1:] if line.startswith("\\") else line)
        self.out.write(self.ENDED)
        return None

    def advance(self, parts, ended=False):
        """Make (parts, ended) the current state and show it."""
        self.steps.append((parts, ended))
        self.choices = self.show()

    # ------------------------------------------------------------ commands
    def quit(self, arg):
        return "leave"

    def help(self, arg):
        self.out.write(_INTERACTIVE_HELP + "\n")

    def again(self, arg):
        self.choices = self.show()

    def back(self, arg):
        if len(self.steps) == 1:
            self.out.write("Nothing to undo.\n")
            return
        self.steps.pop()
        self.choices = self.show()

    def generate(self, n):
        from sklstm._generation import parse_controls

        if n is not None and not n.isdigit():
            self.out.write(f"':g N' needs a whole number of tokens; got {n!r}.\n")
            return
        n = self.default_n if n is None else int(n)
        more = {} if n is None else {"max_new_tokens": n}
        parts = self.steps[-1][0]
        try:
            ctrl = parse_controls(
                {**self.controls, **more, "random_state": self.rng}, "generate"
            )
            piece = self.lm.continue_text([self.doc.ids(parts)], ctrl)[0]
        except (ValueError, TypeError) as exc:
            self.out.write(f"Cannot generate: {exc}\n")
            return
        # Generated text is added as text: the model reads it again as the
        # sequencer encodes it.
        self.advance((*parts, self.doc.typed(piece)))

    def pick(self, k):
        from sklstm._tokens import EOD_ID

        if not 1 <= k <= len(self.choices):
            self.out.write(f"Choose a number from 1 to {len(self.choices)}.\n")
            return
        token, parts = self.choices[k - 1], self.steps[-1][0]
        if token == EOD_ID:
            self.advance(parts, ended=True)
        else:
            self.advance(self.doc.picked(parts, token))

    def type(self, text):
        parts = self.steps[-1][0]
        try:
            typed = self.doc.typed(text)
        except ValueError as exc:
            self.out.write(f"Cannot add that text: {exc}\n")
            return
        self.advance((*parts, typed))

    # ------------------------------------------------------------- display
    def show(self):
        """Print the current text and its choices; the ids of the choices."""
        parts, ended = self.steps[-1]
        text = self.doc.text(parts)
        shown = text[-SHOWN_CHARS:]
        cut = self.ellipsis if len(text) > SHOWN_CHARS else ""
        self.out.write(
            f"\n--- text ({len(text)} characters) ---\n{cut}{shown}{self.cursor}"
        )
        self.out.write("\n--- end of document ---\n" if ended else "\n---\n")
        if ended:
            self.out.write(self.ENDED)
            return []
        ids, proba = self.most_likely(parts)
        labels = self.labels(parts, ids)
        width = max(map(len, labels))
        for k, (i, label) in enumerate(zip(ids, labels, strict=True), 1):
            self.out.write(f"{k:>3}  {label:<{width}}  {100 * proba[i]:6.2f}%\n")
        return ids

    def most_likely(self, parts):
        """The ids of the ``top_n`` most likely next tokens, and all the
        probabilities."""
        import numpy as np

        from sklstm._tokens import OOV_ID, PAD_ID

        proba = self.lm.generator.predict_proba([self.doc.ids(parts)])[0]
        proba[[PAD_ID, OOV_ID]] = -1.0  # never generated
        order = np.argsort(-proba, kind="stable")[: min(self.top_n, len(proba) - 2)]
        return [int(i) for i in order], proba

    def labels(self, parts, ids):
        """How each choice is shown: the text it adds."""
        import numpy as np

        from sklstm._tokens import EOD_ID

        doc, sequencer = self.doc, self.lm.sequencer
        if self.subword:
            # The text each token adds after the picked tokens before it: a
            # token that completes a character shows that character.
            run = parts[-1][1] if parts and parts[-1][0] is None else ()
            before = doc.run_text(run)
            pieces = [doc.run_text((*run, i))[len(before) :] for i in ids]
        else:  # each token as the text it adds (end-of-document adds none)
            pieces = self.lm.decode([np.array([i], dtype=np.int32) for i in ids])
        labels = []
        for i, piece in zip(ids, pieces, strict=True):
            if i == EOD_ID:
                labels.append(EOD_LABEL)
            elif self.subword and not piece:
                labels.append(_bytes_label(sequencer, i))
            else:
                labels.append(_token_label(piece))
        return labels


# ----------------------------------------------------------------- evaluate
def evaluate(fitted, docs):
    """Measures of ``docs`` under a fitted model, as a dict."""
    lm = _fitted(fitted, "evaluate", text=True)
    ids = lm.encode(docs)
    loglik = float(lm.generator.score_samples(ids).sum())
    n_tokens = sum(len(s) + 1 for s in ids)  # + end-of-document
    n_chars = sum(len(d) + 1 for d in docs)  # as bits_per_character counts
    per_token = loglik / n_tokens
    return {
        "documents": len(docs),
        "characters": n_chars,
        "tokens": n_tokens,
        "log_likelihood": loglik,
        "log_likelihood_per_token": per_token,
        "perplexity": math.exp(min(-per_token, 700.0)),
        "bits_per_character": -loglik / n_chars / math.log(2),
    }


def cmd_evaluate(args):
    corpus = _copies_corpus(args, samples=True)
    fitted = load_model(args.model, args.trust_pickle)
    docs, where = read_documents(args.paths, args.pattern)
    result = evaluate(fitted, docs)
    if corpus is not None:
        result["copies"] = sample_copies(fitted, corpus[0], args)
    if args.json:
        _out(json.dumps({"model": args.model, **result}, indent=2))
        return 0
    _out(f"{args.model} on {where}")
    _out(
        _table(
            [
                ["documents", f"{result['documents']:,}"],
                [
                    "characters (each end of document counts 1)",
                    f"{result['characters']:,}",
                ],
                ["tokens (end of document included)", f"{result['tokens']:,}"],
                ["bits per character", f"{result['bits_per_character']:.4f}"],
                ["perplexity per token", f"{result['perplexity']:.4f}"],
                [
                    "log-likelihood per token (nats)",
                    f"{result['log_likelihood_per_token']:.4f}",
                ],
            ]
        )
    )
    if corpus is not None:
        report = result["copies"]
        _out(
            f"\ncopied text in {args.copy_samples} sample(s) of up to "
            f"{args.copy_tokens} tokens (seed 0): {_copies_summary(report, corpus[1])}"
        )
        _out(_copies_table(report, "sample"))
    return 0


# ------------------------------------------------------------ copied text
# Copies listed in the report, longest first.
SHOWN_COPIES = 5


def _copies_corpus(args, samples=False):
    """(documents, description) of --check-copies, or None without it."""
    if not args.check_copies:
        return None
    checks = [("--min-chars", args.min_chars)]
    if samples:
        checks += [
            ("--copy-samples", args.copy_samples),
            ("--copy-tokens", args.copy_tokens),
        ]
    for option, value in checks:
        if value < 1:
            raise UsageError(f"{option} must be at least 1; got {value}")
    return read_documents(args.check_copies, args.copies_pattern)


def check_copies(texts, docs, min_chars):
    """The :func:`sklstm.copied_text` report of ``texts`` against ``docs``."""
    from sklstm.metrics import copied_text

    return copied_text(texts, docs, min_chars=min_chars)


def sample_copies(fitted, docs, args):
    """The copied-text report of samples generated from an empty prompt."""
    import sklstm

    texts = sklstm.generate(
        fitted,
        "",
        max_new_tokens=args.copy_tokens,
        num_return_sequences=args.copy_samples,
        random_state=0,
    )
    return check_copies(
        [texts] if isinstance(texts, str) else texts, docs, args.min_chars
    )


def _copies_summary(report, where):
    return (
        f"{report['copied_fraction']:.1%} of {report['total_chars']:,} "
        f"characters lie in copies of at least {report['min_chars']:,} "
        f"characters from {where}; longest copy: {report['longest_copy']:,} "
        "characters"
    )


def _copies_table(report, label):
    """The longest copies, one a line: where in the text and in the corpus."""
    spans = sorted(report["spans"], key=lambda s: (-s["length"], s["text"], s["start"]))
    lines = [
        f"  {label} {s['text'] + 1}, characters {s['start']:,}-{s['end']:,} "
        f"({s['length']:,}): document {s['document'] + 1}, character "
        f"{s['position']:,}: {s['copied'][:40] + ('...' if s['length'] > 40 else '')!r}"
        for s in spans[:SHOWN_COPIES]
    ]
    if len(spans) > SHOWN_COPIES:
        lines.append(f"  ... and {len(spans) - SHOWN_COPIES} more")
    return "\n".join(lines) if lines else "  no copies"


# --------------------------------------------------------------------- info
def describe(fitted):
    """What ``sklstm info`` reports, as plain data."""
    lm = _fitted(fitted, "info")
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
    return _table(rows, header=["epoch", *keys])


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
        _out(json.dumps({"model": args.model, **info}, indent=2, default=_json_default))
        return 0
    level = info["level"] or "token ids (no sequencer)"
    _out(f"{args.model}: {info['type']}")
    _out(
        _table(
            [
                ["level", level],
                ["vocabulary size", f"{info['vocab_size']:,}"],
                ["network parameters", f"{info['parameters']:,}"],
                ["epochs trained", info["epochs"]],
                ["best epoch", info["best_epoch"]],
            ]
        )
    )
    _out("\nparameters:")
    _out(_table([[k, _format_value(v)] for k, v in info["params"].items()]))
    if info["history"]:
        _out("\nhistory (* marks the best epoch, whose weights the model holds):")
        _out(_history_table(info["history"], info["best_epoch"]))
    return 0


# --------------------------------------------------------------------- plot
def cmd_plot(args):
    try:
        from sklstm.plotting import _import_figure, plot_history

        _import_figure()
    except ImportError as exc:
        raise UserError(str(exc)) from None
    _check_output(args.output)
    fitted = load_model(args.model, args.trust_pickle)
    model = _fitted(fitted, "plot").generator
    plot_history(fitted, args.output)
    n = len(model.history_.get("loss", []))
    _out(
        f"Saved the learning curves of {n} epoch{'s' if n != 1 else ''} "
        f"(best: epoch {model.best_epoch_ + 1}) to {args.output}"
    )
    return 0


# -------------------------------------------------------------------- serve
_SERVE_EPILOG = """\
Endpoints: GET /v1/models, POST /v1/completions (OpenAI's completions API,
streaming with "stream": true), GET /health, and a playground page at /.
Concurrent requests are decoded together in one batch of at most
--max-batch sequences.

The server listens on 127.0.0.1 (this machine only) unless --host says
otherwise. With an API key (--api-key, or the SKLSTM_API_KEY environment
variable, which other users cannot read in the process list) every /v1
request needs "Authorization: Bearer KEY". Needs: pip install 'sklstm[serve]'.

examples:
  sklstm serve model.sklstm
  SKLSTM_API_KEY=secret sklstm serve model.sklstm --host 0.0.0.0 --port 8080
  curl http://127.0.0.1:8000/v1/completions -H 'Content-Type: application/json' \\
       -d '{"prompt": "The ", "max_tokens": 50, "seed": 0}'
"""


def _add_serve_parser(subparsers):
    p = subparsers.add_parser(
        "serve",
        help="serve a model over HTTP (OpenAI-compatible API, playground page)",
        description="Serve a saved model over HTTP until interrupted (Ctrl+C).",
        epilog=_SERVE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_model_argument(p)
    p.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    p.add_argument("--port", type=int, default=8000, help="port (default: %(default)s)")
    p.add_argument(
        "--api-key", help="require this key (default: $SKLSTM_API_KEY, else none)"
    )
    p.add_argument(
        "--model-name",
        help="model id clients use (default: the file name without its suffix)",
    )
    p.add_argument(
        "--max-batch",
        type=int,
        default=64,
        help="most sequences decoded together; 1 serves one at a time "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--max-tokens-limit",
        type=int,
        default=2048,
        help="largest max_tokens a request may ask (default: %(default)s)",
    )
    p.add_argument(
        "--max-prompt-tokens",
        type=int,
        default=4096,
        help="longest prompt in tokens (default: %(default)s)",
    )
    p.add_argument(
        "--no-warm-up",
        dest="warm_up",
        action="store_false",
        help="compile the generation loops when first needed, not at start",
    )
    p.set_defaults(func=cmd_serve)
    return p


def cmd_serve(args):
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be from 0 to 65535; got {args.port}")
    try:
        from sklstm.serving import require

        require("starlette", "uvicorn")
    except ImportError as exc:
        raise UserError(str(exc)) from None
    fitted = load_model(args.model, args.trust_pickle)
    _fitted(fitted, "serve", text=True)  # a generator, pipeline or search, fitted
    name = args.model_name or os.path.splitext(os.path.basename(args.model))[0]
    api_key = args.api_key or os.environ.get("SKLSTM_API_KEY") or None
    if args.host not in ("127.0.0.1", "localhost", "::1") and api_key is None:
        _err("serve", "warning", f"serving {args.host} without an API key")
    try:
        _serve(fitted, args, name, api_key)
    except KeyboardInterrupt:  # Ctrl+C: the server has shut down cleanly
        pass
    return 0


def _serve(fitted, args, name, api_key):
    from sklstm.serving import serve

    serve(
        fitted,
        host=args.host,
        port=args.port,
        model_name=name,
        api_key=api_key,
        max_batch=args.max_batch,
        max_tokens_limit=args.max_tokens_limit,
        max_prompt_tokens=args.max_prompt_tokens,
        warm_up=args.warm_up,
    )


# --------------------------------------------------------------------- main
def main(argv=None):
    """Run the ``sklstm`` command line; return the exit status.

    0 on success, 1 on errors (a missing or damaged file, invalid values),
    2 on usage errors, 130 when interrupted before anything was trained.
    """
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    command = argv[0] if argv and argv[0] in COMMANDS else None
    try:
        parser = build_parser(command)
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else 2
    except KeyboardInterrupt:  # while TensorFlow loads
        _err(command, "error", "interrupted")
        return 130
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warnings.simplefilter("always", UserWarning)
        warnings.simplefilter("always", RuntimeWarning)
        warnings.showwarning = _show_warning(args.command)
        try:
            return args.func(args)
        except UsageError as exc:
            parser.commands[args.command].print_usage(sys.stderr)
            _err(args.command, "error", str(exc))
            return 2
        except UserError as exc:
            _err(args.command, "error", str(exc))
        except (ValueError, TypeError) as exc:
            _err(args.command, "error", str(exc))
        except BrokenPipeError:
            # The reader went away (``| head``): stop quietly.
            try:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
            except (OSError, ValueError):  # stdout is no file descriptor
                pass
            return 141
        except FileNotFoundError as exc:
            _err(args.command, "error", f"{exc.filename!r}: no such file")
        except OSError as exc:
            name = f"{exc.filename!r}: " if exc.filename else ""
            _err(args.command, "error", f"{name}{exc.strerror or exc}")
        except KeyboardInterrupt:
            sys.stdout.write("\n")
            _err(args.command, "error", "interrupted")
            return 130
        return 1
