"""What the commands share: errors, output, documents, loading models."""

from __future__ import annotations

import fnmatch
import os
import re
import sys

from sklstm.cli._quiet import quiet_tensorflow

PROG = "sklstm"

PICKLE_SUFFIXES = (".joblib", ".pkl", ".pickle")

# Line breaks between paragraphs: a newline, then one or more blank lines.
_PARAGRAPH_BREAK = re.compile(r"\n(?:[ \t\f\v\r]*\n)+")


class UserError(Exception):
    """A problem with what the user asked for: reported without a traceback."""


class UsageError(Exception):
    """A wrong combination of arguments: exit status 2, as argparse."""


def print_out(text="", end="\n"):
    sys.stdout.write(text + end)


def print_error(command, kind, message):
    where = PROG if command is None else f"{PROG} {command}"
    sys.stderr.write(f"{where}: {kind}: {message}\n")


def warning_printer(command):
    """A ``warnings.showwarning`` that prints one tidy line per warning."""

    def show(message, category, filename, lineno, file=None, line=None):
        print_error(command, "warning", str(message))

    return show


def format_value(value):
    if isinstance(value, float):
        return f"{value:.6g}"
    return repr(value) if isinstance(value, str) else str(value)


def format_table(rows, header=None):
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


def find_files(paths, pattern):
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


def read_text(path):
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
    files = find_files(paths, pattern)
    texts = [read_text(path) for path in files]
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


def fitted_model(fitted, command, *, text=False):
    """The language model of what a file held (see sklstm._resolve.resolve)."""
    from sklstm._resolve import resolve

    return resolve(fitted, command, text=text, source="the file")


def join_text(sequencer, text, addition):
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
    from sklstm.sequencer import join_words

    first = addition.split()[0]
    joined = join_words([text[-1], first])
    return text + joined[1 : len(joined) - len(first)] + addition


def add_model_argument(parser):
    parser.add_argument("model", metavar="MODEL", help="a saved model file")
    parser.add_argument(
        "--trust-pickle",
        action="store_true",
        help="allow loading a joblib/pickle file, which runs code: only for "
        "files you made or trust",
    )


def check_output_path(path):
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise UserError(f"output {path!r} is a folder; give a file name")
    if not os.path.isdir(folder):
        raise UserError(f"cannot save to {path!r}: folder {folder!r} does not exist")
    if not os.access(folder, os.W_OK):
        raise UserError(f"cannot save to {path!r}: folder {folder!r} is not writable")
