"""Train on a folder of text files streamed from disk, not loaded into memory.

``TextSequencer(input="filename")`` reads each file piece by piece: once to
count the vocabulary, once to write the ids to a temporary file, from which
training reads its windows. Memory holds the model, the vocabulary and a
fixed buffer, whatever the size of the folder. Each file is one document,
so whole files are held out for validation.

Without a folder, the corpus is the standard library's own ``.py`` files
(about 10 MB of code on a typical installation)::

    python examples/corpus_from_files.py                      # stdlib, 2 minutes
    python examples/corpus_from_files.py books/ --pattern '*.txt' --max-time 3600

The peak memory it prints is the whole process's, TensorFlow included.
"""

import argparse
import fnmatch
import math
import os
import resource
import sysconfig
import time

from sklstm import LSTMTextGenerator, TextSequencer

# Folders left out of a walk: tests, installed third-party packages, caches.
SKIPPED = {"test", "tests", "idle_test", "site-packages", "dist-packages"}
SKIPPED.add("__pycache__")


def find_files(folder, pattern, max_files):
    """Up to ``max_files`` non-empty files under ``folder``, in sorted order."""
    found = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED)
        for name in sorted(names):
            path = os.path.join(root, name)
            if fnmatch.fnmatch(name, pattern) and os.path.getsize(path) > 0:
                found.append(path)
                if max_files and len(found) == max_files:
                    return found
    return found


def peak_mb():
    """Peak resident memory of this process so far, in MB (Linux, macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if os.uname().sysname == "Darwin" else peak / 2**10


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "folder",
        nargs="?",
        default=sysconfig.get_paths()["stdlib"],
        help="folder of text files (default: the standard library)",
    )
    parser.add_argument("--pattern", default="*.py", help="file names to read")
    parser.add_argument("--max-files", type=int, default=0, help="0: all")
    parser.add_argument(
        "--max-time", type=float, default=120, help="seconds of training"
    )
    parser.add_argument("--units", type=int, default=LSTMTextGenerator().units)
    parser.add_argument("--sequence-length", type=int, default=100)
    parser.add_argument("--max-new-tokens", type=int, default=200)
    parser.add_argument("--output", default="files.sklstm")
    args = parser.parse_args()

    files = find_files(args.folder, args.pattern, args.max_files)
    if not files:
        raise SystemExit(f"no files matching {args.pattern!r} in {args.folder}")
    size = sum(os.path.getsize(path) for path in files)
    print(f"Corpus: {len(files):,} files, {size / 2**20:,.1f} MB, streamed from disk")

    model = LSTMTextGenerator(
        # Undecodable bytes (a file in another encoding) become U+FFFD.
        sequencer=TextSequencer(input="filename", decode_error="replace"),
        units=args.units,
        sequence_length=args.sequence_length,
        epochs=None,  # until max_time runs out
        max_time=args.max_time,
        validation_fraction=0.02,
        random_state=0,
    )
    start = time.perf_counter()
    model.fit(files)
    seconds = time.perf_counter() - start
    best = model.best_epoch_
    val = model.history_.get("val_loss", [math.nan])[best]
    print(
        f"Fit took {seconds:.0f} s ({model.training_time_:.0f} s training, "
        f"{model.n_epochs_} epochs); vocabulary "
        f"{model.vocab_size_} characters; validation {val / math.log(2):.3f} "
        f"bits per character; peak memory {peak_mb():,.0f} MB"
    )
    for prompt in ("def ", "class ", "import "):
        text = model.generate(
            prompt, max_new_tokens=args.max_new_tokens, temperature=0.7, random_state=0
        )
        print(f"--- prompt {prompt!r}\n{prompt}{text}")
    model.save(args.output)
    print(f"Saved to {args.output}")


if __name__ == "__main__":
    main()
