"""The copied-text report of ``generate`` and ``evaluate`` (``--check-copies``)."""

from __future__ import annotations

from sklstm.cli._shared import UsageError, read_documents


def add_copies_arguments(parser, samples=False):
    """Options of the copied-text report (generate, evaluate)."""
    parser.add_argument(
        "--check-copies",
        action="append",
        metavar="CORPUS",
        help="report how much generated text is copied verbatim from the "
        "text files or folders CORPUS (the training text, read as by 'sklstm "
        "train'); repeat for several",
    )
    parser.add_argument(
        "--copies-pattern",
        metavar="GLOB",
        default="*.txt",
        help="file name pattern in --check-copies folders (default: %(default)s)",
    )
    parser.add_argument(
        "--min-chars",
        metavar="N",
        type=int,
        default=50,
        help="shortest copy that counts, in characters (default: %(default)s)",
    )
    if samples:
        parser.add_argument(
            "--copy-samples",
            metavar="N",
            type=int,
            default=4,
            help="with --check-copies: texts generated to check, from an empty "
            "prompt with seed 0 (default: %(default)s)",
        )
        parser.add_argument(
            "--copy-tokens",
            metavar="N",
            type=int,
            default=500,
            help="with --check-copies: most tokens of each (default: %(default)s)",
        )


# Copies listed in the report, longest first.
SHOWN_COPIES = 5


def copies_corpus(args, samples=False):
    """(documents, description) of --check-copies, or None without it."""
    if not args.check_copies:
        return None
    checks = [("--min-chars", args.min_chars)]
    if samples:
        checks += [
            ("--copy-samples", args.copy_samples),
            ("--copy-tokens", args.copy_tokens),
        ]
    for option, value in checks:
        if value < 1:
            raise UsageError(f"{option} must be at least 1; got {value}")
    return read_documents(args.check_copies, args.copies_pattern)


def check_copies(texts, docs, min_chars):
    """The :func:`sklstm.copied_text` report of ``texts`` against ``docs``."""
    from sklstm.metrics import copied_text

    return copied_text(texts, docs, min_chars=min_chars)


def sample_copies(fitted, docs, args):
    """The copied-text report of samples generated from an empty prompt."""
    import sklstm

    texts = sklstm.generate(
        fitted,
        "",
        max_new_tokens=args.copy_tokens,
        num_return_sequences=args.copy_samples,
        random_state=0,
    )
    return check_copies(
        [texts] if isinstance(texts, str) else texts, docs, args.min_chars
    )


def copies_summary(report, where):
    return (
        f"{report['copied_fraction']:.1%} of {report['total_chars']:,} "
        f"characters lie in copies of at least {report['min_chars']:,} "
        f"characters from {where}; longest copy: {report['longest_copy']:,} "
        "characters"
    )


def copies_table(report, label):
    """The longest copies, one a line: where in the text and in the corpus."""
    spans = sorted(report["spans"], key=lambda s: (-s["length"], s["text"], s["start"]))
    lines = [
        f"  {label} {s['text'] + 1}, characters {s['start']:,}-{s['end']:,} "
        f"({s['length']:,}): document {s['document'] + 1}, character "
        f"{s['position']:,}: {s['copied'][:40] + ('...' if s['length'] > 40 else '')!r}"
        for s in spans[:SHOWN_COPIES]
    ]
    if len(spans) > SHOWN_COPIES:
        lines.append(f"  ... and {len(spans) - SHOWN_COPIES} more")
    return "\n".join(lines) if lines else "  no copies"
