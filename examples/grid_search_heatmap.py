"""Tune two hyper-parameters with GridSearchCV and draw the scores as a heatmap.

Searches LSTM ``units`` x ``sequence_length`` for a character-level model of
the documentation every CPython ships (the embedded corpus, no download).
Each candidate is scored on held-out folds by
``sklstm.neg_bits_per_character_scorer`` (minus bits per character, so
greater is better, as scikit-learn's searches expect); the refitted best
model then continues a prompt. The table of ``cv_results_`` is printed and
the mean held-out bits per character are saved as a heatmap (needs
matplotlib: ``pip install "sklstm[plot]"``)::

    python examples/grid_search_heatmap.py --units 64,128 --sequence-lengths 50,100

Every candidate trains ``--cv`` times (plus one refit of the best), so the
grid's size multiplies the run time: shrink it with ``--max-docs``,
``--epochs`` or a smaller grid.
"""

import argparse
import time

from sklearn.model_selection import GridSearchCV

import sklstm
from sklstm import LSTMTextGenerator, load_python_docs, neg_bits_per_character_scorer


def int_list(text):
    return [int(part) for part in text.split(",")]


def print_table(results):
    """cv_results_ as a plain table, best rank first."""
    rows = [
        (
            results["rank_test_score"][i],
            results["param_units"][i],
            results["param_sequence_length"][i],
            -results["mean_test_score"][i],
            results["std_test_score"][i],
            results["mean_fit_time"][i],
        )
        for i in range(len(results["params"]))
    ]
    header = ("rank", "units", "seq. length", "bits/char", "std", "fit time (s)")
    print("  ".join(f"{h:>12}" for h in header))
    for rank, units, length, bpc, std, seconds in sorted(rows):
        print(
            f"{rank:>12}  {units:>12}  {length:>12}  {bpc:>12.4f}  {std:>12.4f}  "
            f"{seconds:>12.1f}"
        )


def save_heatmap(results, units, lengths, path):
    """Mean held-out bits per character, one cell per candidate."""
    import numpy as np
    from matplotlib.figure import Figure  # no window, no display needed

    bpc = np.full((len(units), len(lengths)), np.nan)
    scores = zip(results["params"], results["mean_test_score"], strict=True)
    for params, score in scores:
        row = units.index(params["units"])
        col = lengths.index(params["sequence_length"])
        bpc[row, col] = -score
    fig = Figure(figsize=(1.6 * len(lengths) + 2.5, 1.2 * len(units) + 1.8))
    ax = fig.add_subplot()
    image = ax.imshow(bpc, cmap="viridis_r")  # darker is worse
    ax.set_xticks(range(len(lengths)), [str(n) for n in lengths])
    ax.set_yticks(range(len(units)), [str(n) for n in units])
    ax.set_xlabel("sequence_length")
    ax.set_ylabel("units")
    middle = np.nanmean(bpc)
    for (row, col), value in np.ndenumerate(bpc):
        ax.text(
            col,
            row,
            f"{value:.3f}",
            ha="center",
            va="center",
            color="white" if value > middle else "black",
        )
    fig.colorbar(image, ax=ax, label="held-out bits per character")
    ax.set_title("Mean held-out bits per character (lower is better)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--units", type=int_list, default=[64, 128], help="comma-separated"
    )
    parser.add_argument(
        "--sequence-lengths", type=int_list, default=[50, 100], help="comma-separated"
    )
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--cv", type=int, default=2, help="folds per candidate")
    parser.add_argument(
        "--max-docs", type=int, default=None, help="use the first N documents only"
    )
    parser.add_argument("--n-jobs", type=int, default=1, help="parallel fits")
    parser.add_argument("--prompt", default="The ")
    parser.add_argument("--output", default="grid_search_heatmap.png")
    args = parser.parse_args()

    docs = load_python_docs()[: args.max_docs]
    print(f"Corpus: {len(docs)} documents, {sum(map(len, docs)):,} characters")
    grid = {"units": args.units, "sequence_length": args.sequence_lengths}
    search = GridSearchCV(
        # Early stopping holds out a validation fraction of each training
        # fold; the search scores on the fold it left out.
        LSTMTextGenerator(epochs=args.epochs, random_state=0),
        grid,
        scoring=neg_bits_per_character_scorer,  # compares across settings
        cv=args.cv,
        n_jobs=args.n_jobs,
    )
    start = time.perf_counter()
    search.fit(docs)
    n = len(search.cv_results_["params"])
    print(
        f"Searched {n} candidates x {args.cv} folds in "
        f"{time.perf_counter() - start:.0f} s\n"
    )
    print_table(search.cv_results_)
    print(
        f"\nBest: {search.best_params_}, "
        f"{-search.best_score_:.4f} held-out bits per character"
    )

    # The search refits the best candidate on every document; generate
    # uses that best_estimator_.
    text = sklstm.generate(
        search, args.prompt, max_new_tokens=200, temperature=0.5, random_state=0
    )
    print(f"\n--- best model, temperature 0.5 ---\n{args.prompt}{text}")

    try:
        save_heatmap(search.cv_results_, args.units, args.sequence_lengths, args.output)
    except ImportError:
        print('\nNo heatmap: it needs matplotlib (pip install "sklstm[plot]").')
    else:
        print(f"\nSaved the heatmap to {args.output}")


if __name__ == "__main__":
    main()
