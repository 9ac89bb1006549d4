"""``--check-copies``: the copied-text report of ``sklstm generate`` and
``sklstm evaluate``."""

import json

from helpers import assert_user_error, run

import sklstm
from sklstm.cli import main, read_documents


def _copies_lines(report, where, label):
    """The summary line and the first listed copy, as the CLI prints them."""
    summary = (
        f"{report['copied_fraction']:.1%} of {report['total_chars']:,} characters "
        f"lie in copies of at least {report['min_chars']} characters from {where}; "
        f"longest copy: {report['longest_copy']:,} characters"
    )
    top = max(report["spans"], key=lambda s: s["length"])
    first = (
        f"  {label} {top['text'] + 1}, characters {top['start']:,}-{top['end']:,} "
        f"({top['length']:,}): document {top['document'] + 1}, character "
        f"{top['position']:,}: "
    )
    return summary, first


def test_generate_reports_copied_text(trained, model, corpus):
    argv = ["generate", trained[0], "the ", "-n", "2", "--max-new-tokens", "60"]
    status, out, err = run(*argv, "--seed", "4", "--check-copies", corpus,
                           "--min-chars", "2")  # fmt: skip
    assert status == 0, err
    texts = model.generate("the ", max_new_tokens=60, num_return_sequences=2,
                           random_state=4)  # fmt: skip
    docs, where = read_documents([corpus])
    report = sklstm.copied_text(texts, docs, min_chars=2)
    assert report["spans"]  # two characters: some copies, even from this model
    text_part, report_part = out.split("\ncopied text: ")
    assert "--- sequence 2 of 2 ---\nthe " + texts[1] in text_part
    summary, first = _copies_lines(report, where, "sequence")
    assert report_part.startswith(summary + "\n" + first)
    status, out, err = run(*argv, "--check-copies", corpus / "missing")
    assert_user_error(status, err, "generate")
    assert not out  # the corpus is read before generating
    assert main(["generate", str(trained[0]), "--check-copies", str(corpus),
                 "--min-chars", "0"]) == 2  # fmt: skip


def test_evaluate_reports_copied_text_of_samples(trained, model, corpus):
    argv = [
        "evaluate",
        trained[0],
        corpus / "sub",
        "--check-copies",
        corpus,
        "--min-chars",
        "2",
        "--copy-samples",
        "3",
        "--copy-tokens",
        "40",
    ]
    # fmt: skip
    status, out, err = run(*argv, "--json")
    assert status == 0, err
    samples = model.generate("", max_new_tokens=40, num_return_sequences=3,
                             random_state=0)  # fmt: skip
    docs, where = read_documents([corpus])
    report = sklstm.copied_text(samples, docs, min_chars=2)
    assert report["spans"] and json.loads(out)["copies"] == report
    status, out, err = run(*argv)
    assert status == 0, err
    summary, first = _copies_lines(report, where, "sample")
    assert f"copied text in 3 sample(s) of up to 40 tokens (seed 0): {summary}\n" in out
    assert first in out
