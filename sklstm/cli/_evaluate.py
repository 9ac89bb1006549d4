"""``sklstm evaluate``: bits per character and perplexity on held-out text."""

from __future__ import annotations

import argparse
import json
import math

from sklstm.cli._copied import (
    add_copies_arguments,
    copies_corpus,
    copies_summary,
    copies_table,
    sample_copies,
)
from sklstm.cli._shared import (
    add_model_argument,
    fitted_model,
    format_table,
    load_model,
    print_out,
    read_documents,
)

_EVALUATE_EPILOG = """\
Documents are read as by "sklstm train": each file is one document, a
single file is split into paragraphs at blank lines.

Bits per character compare models across tokenisations (char and word
level); perplexity is per token, so it compares models that share a
vocabulary only.

--check-copies CORPUS generates --copy-samples texts and reports how much
of them is copied verbatim from CORPUS (see sklstm.copied_text).

examples:
  sklstm evaluate model.sklstm held_out/
  sklstm evaluate model.sklstm notes.txt --json
  sklstm evaluate model.sklstm held_out/ --check-copies corpus/
"""


def add_evaluate_parser(subparsers):
    p = subparsers.add_parser(
        "evaluate",
        help="bits per character and perplexity on text files",
        description="Measure how well a model predicts held-out text.",
        epilog=_EVALUATE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_model_argument(p)
    p.add_argument("paths", nargs="+", metavar="PATH", help="text files or folders")
    p.add_argument(
        "--pattern",
        metavar="GLOB",
        default="*.txt",
        help="file name pattern in folders (default: %(default)s)",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    add_copies_arguments(p, samples=True)
    p.set_defaults(func=cmd_evaluate)
    return p


def evaluate(fitted, docs):
    """Measures of ``docs`` under a fitted model, as a dict."""
    lm = fitted_model(fitted, "evaluate", text=True)
    ids = lm.encode(docs)
    loglik = float(lm.generator.score_samples(ids).sum())
    n_tokens = sum(len(s) + 1 for s in ids)  # + end-of-document
    n_chars = sum(len(d) + 1 for d in docs)  # as bits_per_character counts
    per_token = loglik / n_tokens
    return {
        "documents": len(docs),
        "characters": n_chars,
        "tokens": n_tokens,
        "log_likelihood": loglik,
        "log_likelihood_per_token": per_token,
        "perplexity": math.exp(min(-per_token, 700.0)),
        "bits_per_character": -loglik / n_chars / math.log(2),
    }


def cmd_evaluate(args):
    corpus = copies_corpus(args, samples=True)
    fitted = load_model(args.model, args.trust_pickle)
    docs, where = read_documents(args.paths, args.pattern)
    result = evaluate(fitted, docs)
    if corpus is not None:
        result["copies"] = sample_copies(fitted, corpus[0], args)
    if args.json:
        print_out(json.dumps({"model": args.model, **result}, indent=2))
        return 0
    print_out(f"{args.model} on {where}")
    print_out(
        format_table(
            [
                ["documents", f"{result['documents']:,}"],
                [
                    "characters (each end of document counts 1)",
                    f"{result['characters']:,}",
                ],
                ["tokens (end of document included)", f"{result['tokens']:,}"],
                ["bits per character", f"{result['bits_per_character']:.4f}"],
                ["perplexity per token", f"{result['perplexity']:.4f}"],
                [
                    "log-likelihood per token (nats)",
                    f"{result['log_likelihood_per_token']:.4f}",
                ],
            ]
        )
    )
    if corpus is not None:
        report = result["copies"]
        print_out(
            f"\ncopied text in {args.copy_samples} sample(s) of up to "
            f"{args.copy_tokens} tokens (seed 0): {copies_summary(report, corpus[1])}"
        )
        print_out(copies_table(report, "sample"))
    return 0
