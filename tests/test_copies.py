"""copied_text: how much of some texts is copied verbatim from a corpus."""

import io
import random
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sklstm
import sklstm._copies as copies
from sklstm import LSTMTextGenerator, copied_text
from sklstm.metrics import CopyIndex

# ------------------------------------------------------------- reference


def reference(texts, docs, k):
    """copied_text by brute force: ``str`` searches for every substring."""
    per_text, spans = [], []
    for t, text in enumerate(texts):
        n = len(text)
        # reach[a]: where the longest substring starting at a found in one
        # document ends.
        reach = []
        for a in range(n):
            end = a
            while end < n and any(text[a : end + 1] in doc for doc in docs):
                end += 1
            reach.append(end)
        maximal, previous = [], -1
        for a in range(n):
            if reach[a] - a >= k and reach[a] > previous:
                maximal.append((a, reach[a]))
            previous = max(previous, reach[a])
        copied = [any(s <= j < e for s, e in maximal) for j in range(n)]
        chain = _chain(maximal)
        for s, e in chain:
            document = next(d for d, doc in enumerate(docs) if text[s:e] in doc)
            spans.append(
                {
                    "text": t,
                    "start": s,
                    "end": e,
                    "length": e - s,
                    "copied": text[s:e],
                    "document": document,
                    "position": docs[document].index(text[s:e]),
                }
            )
        per_text.append(
            {
                "chars": n,
                "copied_chars": sum(copied),
                "copied_fraction": sum(copied) / n if n else 0.0,
                "longest_copy": max((e - s for s, e in maximal), default=0),
            }
        )
    total = sum(p["chars"] for p in per_text)
    n_copied = sum(p["copied_chars"] for p in per_text)
    return {
        "copied_fraction": n_copied / total if total else 0.0,
        "copied_chars": n_copied,
        "total_chars": total,
        "longest_copy": max(p["longest_copy"] for p in per_text),
        "min_chars": k,
        "texts": per_text,
        "spans": spans,
    }


def _chain(maximal):
    """The covering copies as the docstring defines them, literally."""
    chain = []
    rest = list(maximal)
    while rest:
        if not chain:
            chain.append(rest.pop(0))
            continue
        s, e = chain[-1]
        inside = [m for m in rest if s < m[0] <= e]
        pick = inside[-1] if inside else min(rest)
        chain.append(pick)
        rest = [m for m in rest if m[0] > pick[0]]
    return chain


def _planted(rng, docs, alphabet, n_chars, n_copies):
    text = "".join(rng.choice(alphabet) for _ in range(n_chars))
    for _ in range(n_copies):
        doc = rng.choice(docs)
        if doc:
            a = rng.randrange(len(doc))
            b = rng.randint(a, len(doc))
            at = rng.randint(0, len(text))
            text = text[:at] + doc[a:b] + text[at:]
    return text


@st.composite
def cases(draw):
    alphabet = draw(st.sampled_from(["ab", "abc", "ab\n\u00e9\U0001f600"]))
    chars = st.text(alphabet=alphabet, max_size=30)
    docs = draw(st.lists(chars, min_size=1, max_size=4))
    if not any(docs):
        docs.append(alphabet)
    rng = random.Random(draw(st.integers(0, 2**32)))
    texts = [
        _planted(rng, docs, alphabet, draw(st.integers(0, 25)), draw(st.integers(0, 3)))
        for _ in range(draw(st.integers(1, 3)))
    ]
    return texts, docs, draw(st.integers(1, 8))


@settings(max_examples=300, deadline=None)
@given(cases())
def test_matches_the_brute_force_reference(case):
    texts, docs, k = case
    assert copied_text(texts, docs, min_chars=k) == reference(texts, docs, k)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(case=cases())
def test_hash_collisions_and_repetitive_text_change_nothing(case, monkeypatch):
    # Every gram gets one of three hashes: matches rest on comparing
    # characters, and the second-gram filter runs on every lookup.
    texts, docs, k = case
    real = copies._gram_hashes
    monkeypatch.setattr(copies, "_gram_hashes", lambda c, n: real(c, n) % 3)
    monkeypatch.setattr(copies, "_FEW", 0)
    assert copied_text(texts, docs, min_chars=k) == reference(texts, docs, k)


def test_long_copies_of_a_larger_corpus_match_the_reference():
    rng = random.Random(1)
    docs = ["".join(rng.choice("abcd ") for _ in range(n)) for n in (3000, 5000, 40)]
    text = docs[1][100:900] + "xyz" + docs[0][2000:2600] + docs[0][10:200] + " " * 70
    got = copied_text([text, docs[2]], docs, min_chars=30)
    ref = reference([text, docs[2]], docs, 30)
    assert got == ref
    assert got["longest_copy"] >= 800
    assert got["spans"][0]["document"] == 1


def test_copies_never_cross_a_document_boundary():
    docs = ["the first document ends here", "and the second one starts here"]
    text = "ends here" + "and the"  # 9 + 7 characters, 16 together
    assert copied_text(text, docs, min_chars=10)["copied_chars"] == 0
    assert copied_text(text, ["".join(docs)], min_chars=10)["copied_fraction"] == 1


def test_spans_cover_exactly_the_copied_characters():
    rng = random.Random(2)
    docs = ["".join(rng.choice("ab") for _ in range(400)) for _ in range(3)]
    texts = [_planted(rng, docs, "ab", 200, 6) for _ in range(5)]
    report = copied_text(texts, docs, min_chars=12)
    for t, (text, info) in enumerate(zip(texts, report["texts"], strict=True)):
        covered = np.zeros(len(text), bool)
        for span in (s for s in report["spans"] if s["text"] == t):
            covered[span["start"] : span["end"]] = True
            assert span["copied"] == text[span["start"] : span["end"]]
            doc = docs[span["document"]]
            assert doc[span["position"] :].startswith(span["copied"])
        assert covered.sum() == info["copied_chars"]


# ------------------------------------------------------------ models

MEMORISED = "the quick brown fox jumps over the lazy dog by the old red door."


@pytest.fixture(scope="module")
def memorised():
    """A char model trained on one sentence until it recites it."""
    return LSTMTextGenerator(
        embedding_dim=16,
        units=64,
        sequence_length=32,
        batch_size=16,
        epochs=6,
        learning_rate=0.03,
        validation_fraction=0,
        random_state=0,
    ).fit([MEMORISED] * 64)


def test_a_model_that_memorised_its_corpus_replays_it(memorised):
    texts = sklstm.generate(
        memorised,
        "",
        max_new_tokens=200,
        temperature=0.5,
        num_return_sequences=4,
        random_state=0,
    )
    greedy = sklstm.generate(memorised, "", max_new_tokens=200, temperature=0)
    report = copied_text([greedy, *texts], [MEMORISED], min_chars=20)
    assert report["copied_fraction"] > 0.8
    assert report["longest_copy"] >= 40
    assert all(span["document"] == 0 for span in report["spans"])


def test_random_text_is_not_copied(memorised):
    rng = random.Random(0)
    text = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz ") for _ in range(2000))
    assert copied_text(text, [MEMORISED], min_chars=20)["copied_fraction"] == 0
    # An untrained model's samples are near random too.
    untrained = LSTMTextGenerator(
        embedding_dim=4, units=8, epochs=1, learning_rate=1e-6, random_state=0
    ).fit([MEMORISED] * 4)
    samples = sklstm.generate(
        untrained, "", max_new_tokens=200, num_return_sequences=4, random_state=0
    )
    assert copied_text(samples, [MEMORISED], min_chars=20)["copied_fraction"] < 0.05


# ---------------------------------------------------------------- files


def test_corpus_from_files_names_and_open_files(tmp_path):
    paths = []
    for name, text in [
        ("a.txt", "caf\u00e9 au lait, s'il vous pla\u00eet"),
        ("b.txt", "x"),
    ]:
        (tmp_path / name).write_text(text, encoding="utf-8")
        paths.append(tmp_path / name)
    text = "un caf\u00e9 au lait, merci"
    expected = copied_text(
        text, ["caf\u00e9 au lait, s'il vous pla\u00eet", "x"], min_chars=8
    )
    assert expected["spans"][0]["copied"] == "caf\u00e9 au lait, "
    assert copied_text(text, paths, min_chars=8, input="filename") == expected
    assert copied_text(
        text, [str(p) for p in paths], min_chars=8, input="filename"
    ) == (expected)
    with open(paths[0], "rb") as first, open(paths[1], "rb") as second:
        assert copied_text(text, [first, second], min_chars=8, input="file") == expected
    one = copied_text(text, paths[0], min_chars=8, input="filename")  # a single file
    assert one["spans"] == expected["spans"]
    latin = tmp_path / "latin.txt"
    latin.write_bytes("caf\u00e9 au lait".encode("latin-1"))
    with pytest.raises(ValueError, match="cannot decode .* as utf-8"):
        copied_text(text, [latin], input="filename")
    report = copied_text(
        text, [latin], min_chars=8, input="filename", encoding="latin-1"
    )
    assert report["spans"][0]["copied"] == "caf\u00e9 au lait"


def test_an_index_serves_many_calls():
    index = CopyIndex(["the cat sat on the mat"], min_chars=5)
    assert (index.n_documents, index.n_chars) == (1, 22)
    assert copied_text("a cat sat", index, min_chars=5) == copied_text(
        "a cat sat", ["the cat sat on the mat"], min_chars=5
    )
    assert sklstm.metrics.copied_text is sklstm.copied_text


# ------------------------------------------------------------ errors


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"min_chars": 0}, ValueError,
         "The 'min_chars' parameter of copied_text must be an int >= 1. Got 0 "
         "instead."),
        ({"min_chars": 2.5}, ValueError, "must be an int >= 1. Got 2.5 instead."),
        ({"min_chars": True}, ValueError, "must be an int >= 1. Got True instead."),
        ({"texts": 3}, TypeError,
         "copied_text expects a str or an iterable of str texts; got int."),
        ({"texts": b"abc"}, TypeError, "got bytes."),
        ({"texts": []}, ValueError, "copied_text expects at least one text; got none."),
        ({"texts": ["ok", None, 7]}, TypeError,
         "copied_text expects every text to be a str; got 2 non-str item(s): index "
         "1: None (NoneType), index 2: 7 (int)."),
        ({"corpus": []}, ValueError,
         "copied_text needs a corpus with text; got no documents."),
        ({"corpus": ["", ""]}, ValueError,
         "copied_text needs a corpus with text; got 2 document(s), all empty."),
        ({"corpus": ["ok", 3]}, TypeError,
         "copied_text expects every document to be a str"),
        ({"corpus": Path("corpus.txt")}, TypeError,
         "copied_text got a path as the corpus with input='content'; pass "
         "input='filename' to read files."),
        ({"corpus": ["ok"], "input": "files"}, ValueError,
         "The 'input' parameter of copied_text must be one of 'content', "
         "'filename', 'file'. Got 'files' instead."),
        ({"corpus": [3], "input": "filename"}, TypeError,
         "expects every item to be a file name"),
        ({"corpus": ["ok"], "decode_error": "skip"}, ValueError,
         "The 'decode_error' parameter of copied_text must be one of"),
        ({"corpus": CopyIndex(["abcdef"], min_chars=3)}, ValueError,
         "copied_text got a CopyIndex built with min_chars=3 and min_chars=50; "
         "pass min_chars=3 or build the index anew."),
    ],
)  # fmt: skip
def test_bad_input_gets_a_clear_error(kwargs, error, message):
    args = {"texts": "some text", "corpus": ["some corpus"], **kwargs}
    with pytest.raises(error, match=re.escape(message)):
        copied_text(args.pop("texts"), args.pop("corpus"), **args)


def test_files_that_cannot_be_read(tmp_path):
    with pytest.raises(OSError, match="cannot read the file"):
        copied_text("text", [tmp_path / "missing.txt"], input="filename")
    with pytest.raises(ValueError, match="input='file' needs files that can seek"):
        copied_text("text", [_Unseekable("corpus")], input="file")


class _Unseekable(io.StringIO):
    def seekable(self):
        return False


def test_empty_texts_and_texts_shorter_than_min_chars():
    report = copied_text(["", "short"], ["short and sweet"], min_chars=10)
    assert report["copied_fraction"] == 0.0
    assert report["texts"][0] == {
        "chars": 0, "copied_chars": 0, "copied_fraction": 0.0, "longest_copy": 0
    }  # fmt: skip
    assert copied_text("", ["abc"], min_chars=1)["copied_fraction"] == 0.0
    assert copied_text("short", ["short and sweet"], min_chars=5)["spans"] == [
        {"text": 0, "start": 0, "end": 5, "length": 5, "copied": "short",
         "document": 0, "position": 0}
    ]  # fmt: skip
