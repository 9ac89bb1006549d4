"""Character-level text generator trained on Python's own documentation.

Trains an LSTM language model on the documentation topics every CPython
ships (``pydoc_data.topics``, about 465,000 characters, no download), shows
the training progress, prints continuations of a prompt at a few
temperatures, and saves the fitted model in sklstm's safe format (reload it
with ``sklstm.load``).

Run it with ``python3 tasks.py demo`` from the project root, or directly::

    python examples/char_python_docs.py --epochs 8 --output python_docs_char.sklstm

``--plot curves.png`` also saves the learning curves (training and
validation loss per epoch, in nats and bits per character) when matplotlib
is installed (``pip install "sklstm[plot]"``).

It takes about three minutes on 2 CPU cores with the default settings.
"""

import argparse
import time

from sklstm import LSTMTextGenerator, load_python_docs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--units", type=int, default=LSTMTextGenerator().units)
    parser.add_argument("--prompt", default="The ")
    parser.add_argument("--output", default="python_docs_char.sklstm")
    parser.add_argument("--plot", metavar="PNG", help="save the learning curves")
    parser.add_argument(
        "--max-docs", type=int, default=None, help="use the first N documents only"
    )
    args = parser.parse_args()

    docs = load_python_docs()[: args.max_docs]
    print(f"Corpus: {len(docs)} documents, {sum(map(len, docs)):,} characters")

    model = LSTMTextGenerator(
        units=args.units,
        epochs=args.epochs,
        validation_fraction=0.1,
        random_state=0,
        verbose=1,  # Keras progress bars
    )
    start = time.perf_counter()
    model.fit(docs)
    seconds = time.perf_counter() - start
    best = model.best_epoch_
    val_loss = model.history_["val_loss"][best]
    val_accuracy = model.history_["val_accuracy"][best]
    print(
        f"Trained {model.n_epochs_} epochs in {seconds:.0f} s; best epoch {best + 1}: "
        f"validation loss {val_loss:.3f} nats/char, "
        f"next-char accuracy {val_accuracy:.1%}"
    )

    for temperature in (0.2, 0.5, 1.0):
        text = model.generate(
            args.prompt, max_new_tokens=300, temperature=temperature, random_state=0
        )
        print(f"\n--- temperature {temperature} ---\n{args.prompt}{text}")

    model.save(args.output)
    print(f"\nSaved the fitted model to {args.output}; reload it with sklstm.load.")

    if args.plot:
        try:
            from sklstm.plotting import plot_history

            plot_history(model, args.plot)
        except ImportError as exc:
            print(f"No learning curves: {exc}")
        else:
            print(f"Saved the learning curves to {args.plot}")


if __name__ == "__main__":
    main()
