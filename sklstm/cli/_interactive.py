"""``sklstm generate --interactive``: build a text token by token."""

from __future__ import annotations

import re
import sys

from sklstm.cli._shared import join_text

# Characters of the current text shown at each step of --interactive.
SHOWN_CHARS = 400

EOD_LABEL = "<end of document>"

INTERACTIVE_HELP = """\
commands:
  NUMBER      append that token
  :g [N]      let the model generate N tokens (default: --max-new-tokens)
  :b, back    undo the last step
  :q, quit    leave (so does end of input)
  :h, help    show this help
  TEXT        append TEXT as typed (at word level, as a new word)
  \\TEXT       append TEXT even if it looks like a command
  (empty)     show the text and the choices again"""


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
            text = join_text(self.sequencer, text, piece)
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
        self.out.write(INTERACTIVE_HELP + "\n")

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
