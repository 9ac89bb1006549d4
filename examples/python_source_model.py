"""A character-level model of Python source code, trained on the standard library.

Every Python installation ships its standard library as ``.py`` files, so
there is plenty of real code to learn from without a download. The example
takes a bounded, deterministic sample of those files (sorted by path, test
folders and site-packages left out; each file is one document, so whole
files are held out for validation), trains a char-level LSTM on it, and
writes code from a few prompts::

    python examples/python_source_model.py --max-files 200 --max-bytes 1000000

Training time grows with ``--max-bytes`` and ``--epochs``; shrink them for a
quick look.
"""

import argparse
import math
import os
import sysconfig
import time

from sklstm import LSTMTextGenerator

# Folders left out: tests, installed third-party packages, caches.
SKIPPED = {"test", "tests", "idle_test", "site-packages", "dist-packages"}
SKIPPED.add("__pycache__")


def standard_library_sources(max_files, max_bytes):
    """The text of up to ``max_files`` .py files of the standard library.

    Files are taken in sorted path order, skipping any that would take the
    total past ``max_bytes`` or that are not UTF-8.
    """
    root = sysconfig.get_paths()["stdlib"]
    docs, paths, total = [], [], 0
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED)
        for name in sorted(files):
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            size = os.path.getsize(path)
            if size == 0 or total + size > max_bytes:
                continue
            try:
                with open(path, encoding="utf-8") as handle:
                    text = handle.read()
            except (UnicodeDecodeError, OSError):
                continue
            docs.append(text)
            paths.append(os.path.relpath(path, root))
            total += size
            if len(docs) == max_files:
                return docs, paths
    return docs, paths


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-files", type=int, default=200)
    parser.add_argument("--max-bytes", type=int, default=1_000_000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--units", type=int, default=LSTMTextGenerator().units)
    parser.add_argument("--sequence-length", type=int, default=100)
    parser.add_argument("--prompts", nargs="+", default=["def ", "class ", "    for "])
    parser.add_argument("--max-new-tokens", type=int, default=300)
    parser.add_argument("--output", help="save the model there (safe format)")
    args = parser.parse_args()

    docs, paths = standard_library_sources(args.max_files, args.max_bytes)
    if len(docs) < 2:
        parser.error("fewer than 2 files fit: raise --max-files or --max-bytes")
    chars = sum(map(len, docs))
    print(
        f"Corpus: {len(docs)} files of the standard library ({paths[0]} ... "
        f"{paths[-1]}), {chars:,} characters"
    )

    model = LSTMTextGenerator(
        units=args.units,
        sequence_length=args.sequence_length,
        epochs=args.epochs,
        validation_fraction=0.1,  # whole files held out
        random_state=0,
        verbose=2,  # one line per epoch
    )
    start = time.perf_counter()
    model.fit(docs)
    best = model.best_epoch_
    val_loss = model.history_["val_loss"][best]
    print(
        f"Trained {model.n_epochs_} epochs in {time.perf_counter() - start:.0f} s; "
        f"best epoch {best + 1}: validation loss {val_loss:.3f} nats per "
        f"character ({val_loss / math.log(2):.3f} bits) on held-out files"
    )

    for prompt in args.prompts:
        code = model.generate(
            prompt,
            max_new_tokens=args.max_new_tokens,
            temperature=0.5,
            stop="\n\n\n",  # the end of a top-level definition
            random_state=0,
        )
        print(f"\n--- prompt {prompt!r}, temperature 0.5 ---\n{prompt}{code}")

    if args.output:
        model.save(args.output)
        print(f"\nSaved the model to {args.output}")


if __name__ == "__main__":
    main()
