"""``sklstm generate``: continue a prompt, streaming the text as it comes."""

from __future__ import annotations

import argparse
import sys

from sklstm.cli._copied import (
    add_copies_arguments,
    check_copies,
    copies_corpus,
    copies_summary,
    copies_table,
)
from sklstm.cli._interactive import INTERACTIVE_HELP, interactive
from sklstm.cli._options import format_default, temperature_option, unescape
from sklstm.cli._shared import (
    UsageError,
    add_model_argument,
    fitted_model,
    join_text,
    load_model,
    print_out,
    read_text,
)

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
""".format(interactive=INTERACTIVE_HELP.split("\n", 1)[1])


def add_generate_parser(subparsers, lib):
    controls = lib[1] if lib else {}

    def show(name):
        return format_default(controls.get(name)) if lib else "see generate"

    p = subparsers.add_parser(
        "generate",
        help="continue a prompt, or build a text token by token",
        description="Continue a prompt with a trained model.",
        epilog=_GENERATE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_model_argument(p)
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
    _add_sampling_options(p, show)
    _add_text_options(p, show)
    add_copies_arguments(p)
    p.set_defaults(func=cmd_generate)
    return p


def _add_sampling_options(p, show):
    """The generation controls; ``show(name)``: the default shown in the help."""
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
        type=temperature_option,
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


def _add_text_options(p, show):
    """Where generation stops, and what is printed."""
    p.add_argument(
        "--stop",
        action="append",
        type=unescape,
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


def _read_prompt(args):
    if args.prompt_file is not None:
        if args.prompt is not None:
            raise UsageError("give the prompt as PROMPT or --prompt-file, not both")
        text = read_text(args.prompt_file)
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
    corpus = copies_corpus(args)
    fitted = load_model(args.model, args.trust_pickle)
    lm = fitted_model(fitted, "generate", text=True)
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
            print_out(f"{'' if i == 0 else chr(10)}--- sequence {i + 1} of {n} ---")
        sys.stdout.write(echo)
        sys.stdout.flush()
        last, first = echo, True
        for piece in [text] if isinstance(text, str) else text:
            if not piece:
                continue
            if first:  # a space between words, if needed
                piece = join_text(sequencer, echo, piece)[len(echo) :]
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
        print_out(f"\ncopied text: {copies_summary(report, corpus[1])}")
        print_out(copies_table(report, "sequence"))
    return 0
