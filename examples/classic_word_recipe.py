"""The classic Keras word-level recipe, done with sklstm.

The recipe found in most tutorials: lowercase the text, strip punctuation and
digits, keep the 10,000 most frequent words, and train Embedding -> LSTM ->
relu Dense -> softmax on windows of words. sklstm keeps the network but not
the recipe's costs: every position of a window predicts its next word
(instead of one target per window), targets stay integer ids (no one-hot
matrix), windows are sliced on the fly from one id array, and generation runs
in one compiled loop instead of calling ``model.predict`` once per word.

The steps are a scikit-learn ``Pipeline``, so the same object tokenises,
trains, scores held-out documents and continues a prompt::

    python examples/classic_word_recipe.py --epochs 30

About two minutes on 2 CPU cores with the defaults; early stopping may end it
sooner.
"""

import argparse
import math

from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

import sklstm
from sklstm import LSTMTextGenerator, TextSequencer, load_python_docs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--prompt", default="the value of the")
    parser.add_argument(
        "--max-docs", type=int, default=None, help="use the first N documents only"
    )
    args = parser.parse_args()

    docs = load_python_docs()[: args.max_docs]
    train, test = train_test_split(docs, test_size=0.15, random_state=0)

    pipe = Pipeline(
        [
            # Classic normalisation: lowercase, no punctuation, no digits.
            ("sequencer", TextSequencer(level="word", max_words=10_000)),
            (
                "model",
                LSTMTextGenerator(
                    embedding_dim=100,
                    units=128,
                    dense_units=128,  # the recipe's relu Dense layer
                    sequence_length=20,
                    batch_size=64,
                    epochs=args.epochs,
                    random_state=0,
                    verbose=2,
                ),
            ),
        ]
    )
    pipe.fit(train)
    vocab = pipe.named_steps["sequencer"].vocab_size_
    print(f"Vocabulary: {vocab:,} ids")

    # score: mean log-likelihood per word on documents never trained on.
    nats = -pipe.score(test)
    print(
        f"Held-out cross-entropy {nats:.3f} nats/word, perplexity {math.exp(nats):.0f}"
    )

    for temperature in (0.0, 0.7, 1.0):
        text = sklstm.generate(
            pipe,
            args.prompt,
            max_new_tokens=40,
            temperature=temperature,
            random_state=0,
        )
        label = "greedy" if temperature == 0 else f"temperature {temperature}"
        print(f"\n--- {label} ---\n{args.prompt} {text}")


if __name__ == "__main__":
    main()
