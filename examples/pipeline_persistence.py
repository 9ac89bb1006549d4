"""Save a fitted model, load it in a fresh process, get the same results.

Two ways to keep a fitted model, for two situations:

- **joblib** (pickle) keeps any fitted object: here a word-level
  ``Pipeline([("seq", TextSequencer(...)), ("lm", LSTMTextGenerator(...))])``.
  Loading a pickle runs whatever code the file holds, so use it for your own
  files on your own machines only.
- **``model.save(path)`` / ``sklstm.load(path)``**, sklstm's safe format,
  keeps one fitted ``LSTMTextGenerator`` with its own sequencer: JSON plus a
  Keras archive loaded with ``safe_mode=True``, nothing unpickled. Use it
  for files you share or receive. A pipeline does not fit in it, so the
  estimator owns its tokeniser instead: ``LSTMTextGenerator(sequencer=...)``.

The example fits both, writes both files, then starts a new Python process
that loads them and scores and continues the same prompt; the results match
those of the models that were never saved::

    python examples/pipeline_persistence.py --epochs 3 --folder models
"""

import argparse
import json
import os
import subprocess
import sys

import joblib
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

import sklstm
from sklstm import LSTMTextGenerator, TextSequencer, load_python_docs


def results(pipeline, model, held_out, prompt):
    """What must survive a round trip: scores and generated text."""
    return {
        "pipeline_score": pipeline.score(held_out),
        "pipeline_text": sklstm.generate(
            pipeline, prompt, max_new_tokens=30, random_state=0
        ),
        "model_bits_per_character": sklstm.bits_per_character(model, held_out),
        "model_text": sklstm.generate(model, prompt, max_new_tokens=30, random_state=0),
    }


def reload_and_report(folder, held_out, prompt):
    """Run in the fresh process: load both files, print the results as JSON."""
    # joblib runs code from the file: only for files you made yourself.
    pipeline = joblib.load(os.path.join(folder, "pipeline.joblib"))
    # sklstm.load reads data only: safe for files from anyone.
    model = sklstm.load(os.path.join(folder, "model.sklstm"))
    print(json.dumps(results(pipeline, model, held_out, prompt)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--units", type=int, default=128)
    parser.add_argument(
        "--max-docs", type=int, default=None, help="use the first N documents only"
    )
    parser.add_argument("--prompt", default="the value of the")
    parser.add_argument("--folder", default=".", help="where to write the files")
    parser.add_argument("--reload", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    docs = load_python_docs()[: args.max_docs]
    train, held_out = train_test_split(docs, test_size=0.2, random_state=0)
    if args.reload:  # the fresh process started below
        reload_and_report(args.folder, held_out, args.prompt)
        return

    network = dict(
        embedding_dim=64,
        units=args.units,
        sequence_length=20,
        epochs=args.epochs,
        random_state=0,
    )
    # A pipeline: the sequencer is a step of its own; joblib keeps it all.
    pipeline = Pipeline(
        [
            ("seq", TextSequencer(level="word", max_words=5000)),
            ("lm", LSTMTextGenerator(**network)),
        ]
    ).fit(train)
    # The same network owning its sequencer: one object, fit for model.save.
    model = LSTMTextGenerator(
        sequencer=TextSequencer(level="word", max_words=5000), **network
    ).fit(train)

    os.makedirs(args.folder, exist_ok=True)
    joblib.dump(pipeline, os.path.join(args.folder, "pipeline.joblib"))
    model.save(os.path.join(args.folder, "model.sklstm"))
    for name in ("pipeline.joblib", "model.sklstm"):
        size = os.path.getsize(os.path.join(args.folder, name))
        print(f"Wrote {name}: {size / 1e6:.1f} MB")

    before = results(pipeline, model, held_out, args.prompt)
    child = subprocess.run(
        [sys.executable, __file__, "--reload", "--folder", args.folder]
        + ["--prompt", args.prompt]
        + ([] if args.max_docs is None else ["--max-docs", str(args.max_docs)]),
        capture_output=True,
        text=True,
        check=True,
    )
    after = json.loads(child.stdout.strip().splitlines()[-1])

    print(f"\n{'':26}{'this process':>16}{'fresh process':>16}")
    for key in ("pipeline_score", "model_bits_per_character"):
        print(f"{key:26}{before[key]:16.6f}{after[key]:16.6f}")
    for key in ("pipeline_text", "model_text"):
        print(f"\n{key}, this process:  {args.prompt} {before[key]}")
        print(f"{key}, fresh process: {args.prompt} {after[key]}")
    same = all(before[key] == after[key] for key in before)
    print(f"\nIdentical after reloading: {same}")
    if not same:
        sys.exit("The reloaded models differ from the fitted ones.")


if __name__ == "__main__":
    main()
