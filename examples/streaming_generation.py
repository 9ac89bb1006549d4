"""Print generated text as it is produced, with ``sklstm.stream``.

``sklstm.stream(model, prompt, ...)`` yields the continuation piece by
piece, so text appears while the model is still writing; the pieces join to
exactly what ``sklstm.generate`` returns for the same arguments. It takes
the same controls: ``temperature`` (0 is greedy), ``top_p`` (nucleus
sampling), ``top_k``, ``stop`` (cut the text before the first of these
strings), ``max_new_tokens`` and ``random_state``.

Give a saved model (for instance the one ``examples/char_python_docs.py``
writes), or let the example train a small character-level model on the
embedded corpus first::

    python examples/streaming_generation.py --model python_docs_char.sklstm \\
        --prompt "The " --temperature 0.7 --top-p 0.9 --stop "\\n\\n"
    python examples/streaming_generation.py --epochs 2 --save small.sklstm
"""

import argparse
import re
import sys
import time

import sklstm
from sklstm import LSTMTextGenerator, load_python_docs


def unescape(text):
    r"""``\n``, ``\t`` and ``\\`` typed on a command line, as the characters."""
    escapes = {"n": "\n", "t": "\t", "\\": "\\"}
    return re.sub(r"\\([nt\\])", lambda m: escapes[m.group(1)], text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a saved model; none trains one first")
    parser.add_argument("--epochs", type=int, default=2, help="when training")
    parser.add_argument("--units", type=int, default=128, help="when training")
    parser.add_argument(
        "--max-docs", type=int, default=None, help="when training: first N documents"
    )
    parser.add_argument("--save", help="when training: save the model there")
    parser.add_argument("--prompt", default="The ")
    parser.add_argument("--max-new-tokens", type=int, default=400)
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--top-p", type=float, default=0.9)
    parser.add_argument(
        "--stop",
        type=unescape,
        action="append",
        help=r"stop before this text, e.g. '\n\n' (repeat for several)",
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    if args.model:
        model = sklstm.load(args.model)  # the safe format: no code runs
    else:
        docs = load_python_docs()[: args.max_docs]
        print(f"Training on {len(docs)} documents ...", flush=True)
        model = LSTMTextGenerator(
            units=args.units, epochs=args.epochs, random_state=0
        ).fit(docs)
        if args.save:
            model.save(args.save)
            print(f"Saved the model to {args.save}")

    controls = dict(
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        top_p=args.top_p,
        stop=args.stop,
        random_state=args.seed,
    )
    print(f"\n--- streaming (temperature {args.temperature}, top_p {args.top_p}) ---")
    print(args.prompt, end="", flush=True)
    start = time.perf_counter()
    pieces = []
    for piece in sklstm.stream(model, args.prompt, **controls):
        if not pieces:
            first = time.perf_counter() - start
        print(piece, end="", flush=True)  # shown at once
        pieces.append(piece)
    seconds = time.perf_counter() - start
    text = "".join(pieces)
    print(
        f"\n--- {len(pieces)} pieces, {len(text)} characters in {seconds:.2f} s"
        + (f", the first after {first:.2f} s" if pieces else "")
        + " ---"
    )

    # The same arguments give the same text in one call.
    if sklstm.generate(model, args.prompt, **controls) != text:
        sys.exit("sklstm.generate returned another text than the stream.")
    print("sklstm.generate with the same arguments returns the same text.")


if __name__ == "__main__":
    main()
