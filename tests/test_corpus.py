"""Corpora read from files: TextSequencer(input="filename" / "file"), IdCorpus,
and models that read their training text from disk."""

import io
import os
import pickle
import tempfile
from copy import deepcopy

import joblib
import numpy as np
import pytest
from corpora import SMALL
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.pipeline import Pipeline

import sklstm
from sklstm import IdCorpus, LSTMTextGenerator, TextSequencer, _corpus, _data

DOCS = [
    "The cat sat on the mat.  The dog sat on the log!\n" * 6,
    "A bird sang in the tree\twhile the cat slept \U0001f431.\r\n" * 5,
    "Caf\u00e9, na\u00efve things cost 42 \u20ac; don't they?\n" * 4,
    "",
    "the tree, the log and the mat \u2603\n" * 5,
]
TINY = dict(SMALL, epochs=2)
SUBWORD_SEQUENCER = TextSequencer(level="subword", vocab_size=300).fit(
    ["the cat sat on the mat. " * 20, "a b ab ba \u00e9t\u00e9 \U0001f431 " * 20]
)
LEVELS = [
    dict(level="char"),
    dict(level="word"),
    dict(level="word", strip_punctuation=False, lowercase=False),
    dict(level="subword", vocab_size=300),
]


def _write(folder):
    """DOCS written to files in ``folder``, bytes exactly as in the strings."""
    out = []
    for i, doc in enumerate(DOCS):
        path = folder / f"doc{i}.txt"
        path.write_bytes(doc.encode("utf-8"))
        out.append(str(path))
    return out


@pytest.fixture
def paths(tmp_path):
    """DOCS written to files, bytes exactly as in the strings."""
    return _write(tmp_path)


@pytest.fixture(scope="module")
def file_model(tmp_path_factory):
    """A model fitted on DOCS read from files; read only."""
    paths = _write(tmp_path_factory.mktemp("docs"))
    model = LSTMTextGenerator(sequencer=TextSequencer(input="filename"), **TINY)
    return model.fit(paths)


@pytest.fixture
def small_pieces(monkeypatch):
    """Read files a few characters at a time, to cut them often."""
    monkeypatch.setattr(_corpus, "PIECE_CHARS", 7)


@pytest.fixture
def own_tempdir(tmp_path, monkeypatch):
    """Temporary id files go to a folder of the test's own."""
    folder = tmp_path / "temp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def id_files(folder):
    """The id files sklstm keeps in ``folder``. TensorFlow writes files there
    too: autograph's sources of the first functions a process converts."""
    return sorted(name for name in os.listdir(folder) if name.startswith("sklstm-ids-"))


# ----------------------------------------------------------------- sequencer
@pytest.mark.parametrize("params", LEVELS, ids=lambda p: "-".join(map(str, p.values())))
def test_files_give_the_vocabulary_and_ids_of_the_same_text(
    params, paths, small_pieces
):
    from_text = TextSequencer(**params).fit(DOCS)
    from_files = TextSequencer(input="filename", **params).fit(paths)
    assert from_files.vocabulary_ == from_text.vocabulary_
    corpus = from_files.transform(paths)
    assert isinstance(corpus, IdCorpus)
    assert len(corpus) == len(DOCS)
    for ids, expected in zip(corpus, from_text.transform(DOCS), strict=True):
        assert ids.dtype == np.int32
        np.testing.assert_array_equal(ids, expected)


def test_open_files_text_or_binary_are_read_and_left_where_they_were(paths):
    expected = TextSequencer().fit(DOCS[:2]).transform(DOCS[:2])
    binary = open(paths[0], "rb")  # noqa: SIM115
    text = open(paths[1], encoding="utf-8", newline="")  # noqa: SIM115
    with binary, text:
        seq = TextSequencer(input="file").fit([binary, text])
        assert binary.tell() == 0 and text.tell() == 0
        got = seq.transform([binary, text])
    for ids, want in zip(got, expected, strict=True):
        np.testing.assert_array_equal(ids, want)


def test_a_file_that_cannot_seek_is_refused_with_the_way_out():
    class Pipe(io.RawIOBase):
        def readable(self):
            return True

        def readinto(self, buffer):
            return 0

    with pytest.raises(ValueError, match="can seek.*input='filename'"):
        TextSequencer(input="file").fit([Pipe()])


def test_maxlen_pads_file_documents_in_memory(paths):
    seq = TextSequencer(input="filename", maxlen=10).fit(paths)
    rows = seq.transform(paths)
    assert isinstance(rows, np.ndarray) and rows.shape == (len(paths), 10)
    plain = TextSequencer(maxlen=10).fit(DOCS)
    np.testing.assert_array_equal(rows, plain.transform(DOCS))


def test_fit_transform_reads_each_file_for_vocabulary_then_ids(paths):
    ids = TextSequencer(input="filename").fit_transform(iter(paths))
    assert [len(x) for x in ids] == [len(d) for d in DOCS]


def test_encoding_and_decode_error(tmp_path):
    latin = tmp_path / "latin.txt"
    latin.write_bytes("d\u00e9j\u00e0 vu".encode("latin-1"))
    seq = TextSequencer(input="filename", encoding="latin-1").fit([latin])
    assert seq.inverse_transform(seq.transform([latin])) == ["d\u00e9j\u00e0 vu"]
    with pytest.raises(ValueError, match=r"cannot decode .*latin.txt as utf-8"):
        TextSequencer(input="filename").fit([latin])
    replaced = TextSequencer(input="filename", decode_error="replace").fit([latin])
    assert "\ufffd" in replaced.vocabulary_
    dropped = TextSequencer(input="filename", decode_error="ignore").fit([latin])
    assert dropped.inverse_transform(dropped.transform([latin])) == ["dj vu"]


@pytest.mark.parametrize(
    "params, X, error, match",
    [
        (dict(input="url"), ["a"], ValueError, "'input' parameter.*'filename'"),
        (dict(encoding="utf-9"), ["a"], ValueError, "'encoding' parameter"),
        (dict(decode_error="skip"), ["a"], ValueError, "'decode_error'"),
        (dict(input="filename"), "a.txt", ValueError, r"single str.*\[path\]"),
        (dict(input="filename"), [3], TypeError, "item 0 is int"),
        (dict(input="file"), ["a.txt"], TypeError, "open file.*item 0 is str"),
        (dict(input="filename"), ["/no/such/file.txt"], OSError, "file.txt"),
    ],
)
def test_bad_input_says_what_was_expected(params, X, error, match):
    with pytest.raises(error, match=match):
        TextSequencer(**params).fit(X)


def test_words_longer_than_a_piece_are_read_whole(tmp_path, small_pieces):
    path = tmp_path / "run.txt"
    text = "x" * 20 + " " + "y" * 5 + "\n\n" + "z" * 9
    path.write_text(text, encoding="utf-8")
    seq = TextSequencer(input="filename", level="word").fit([path])
    assert list(seq.vocabulary_)[3:] == ["x" * 20, "y" * 5, "z" * 9]


# ------------------------------------------------------------------- IdCorpus
def test_id_corpus_is_a_read_only_sequence_of_documents(paths, own_tempdir):
    seq = TextSequencer(input="filename").fit(paths)
    corpus = seq.transform(paths)
    assert len(id_files(own_tempdir)) == 1
    assert len(corpus[-1]) == len(DOCS[-1]) and len(corpus[3]) == 0
    assert [len(x) for x in corpus[1:3]] == [len(DOCS[1]), len(DOCS[2])]
    with pytest.raises(IndexError):
        corpus[len(DOCS)]
    assert "5 documents" in repr(corpus)
    copy = pickle.loads(pickle.dumps(corpus))
    assert isinstance(copy, list)
    for a, b in zip(copy, corpus, strict=True):
        np.testing.assert_array_equal(a, b)
    assert seq.inverse_transform(corpus) == DOCS
    del corpus
    assert id_files(own_tempdir) == []  # the file goes with the object


# -------------------------------------------------------------------- models
def test_a_model_fitted_on_files_streams_them_from_disk(paths, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("file documents were joined in memory")

    monkeypatch.setattr(_data, "join_documents", refuse)
    model = LSTMTextGenerator(
        sequencer=TextSequencer(input="filename"), **dict(TINY, validation_fraction=0.3)
    ).fit(paths)
    assert model.n_epochs_ == 2 and len(model.history_["val_loss"]) == 2
    assert np.isfinite(model.history_["loss"]).all()
    text = model.generate("The cat", max_new_tokens=12, random_state=0)
    assert isinstance(text, str) and len(text) <= 12


def test_scores_of_files_are_the_scores_of_their_text(file_model, paths):
    model = file_model
    in_memory = deepcopy(model.sequencer_).set_params(input="content")
    twin = LSTMTextGenerator(**TINY)
    twin.__dict__.update(model.__dict__, sequencer_=in_memory)
    assert model.score(paths) == pytest.approx(twin.score(DOCS), rel=1e-6)
    np.testing.assert_allclose(
        model.score_samples(paths[:2]), twin.score_samples(DOCS[:2]), rtol=1e-6
    )
    assert model.predict(paths[:1]) == twin.predict(DOCS[:1])


def test_files_learn_as_well_as_the_same_text_in_memory(paths):
    params = dict(TINY, epochs=15, units=32, learning_rate=0.02)
    on_disk = LSTMTextGenerator(sequencer=TextSequencer(input="filename"), **params)
    in_memory = LSTMTextGenerator(**params)
    loss_disk = on_disk.fit(paths).history_["loss"]
    loss_memory = in_memory.fit(DOCS).history_["loss"]
    assert loss_disk[-1] < 0.8 * loss_disk[0]
    assert loss_disk[-1] == pytest.approx(loss_memory[-1], rel=0.1)


def test_pipeline_passes_ids_on_disk_to_the_model(paths, own_tempdir):
    pipe = Pipeline(
        [("seq", TextSequencer(input="filename")), ("lm", LSTMTextGenerator(**TINY))]
    ).fit(paths)
    assert id_files(own_tempdir) == []  # the id file went with the fit
    assert isinstance(sklstm.generate(pipe, "The ", max_new_tokens=5), str)
    assert np.isfinite(pipe.score(paths))
    lm = pipe[-1]
    assert lm.vocab_size_ == pipe[0].vocab_size_ and lm.sequencer_ is None


def test_continued_training_and_carried_states_read_files(paths, own_tempdir):
    model = LSTMTextGenerator(
        sequencer=TextSequencer(input="filename"), stateful=True, **TINY
    )
    model.partial_fit(paths).partial_fit(paths[:2])
    assert model.stateful_ and model.n_epochs_ == 2
    model.set_params(warm_start=True).fit(paths)
    assert model.n_epochs_ == 4
    assert id_files(own_tempdir) == []


def test_a_failed_fit_on_files_keeps_the_model_and_leaves_no_file(
    file_model, paths, own_tempdir
):
    model = deepcopy(file_model)  # a failure must not spread
    weights = model.model_.get_weights()
    with pytest.raises(OSError, match="missing.txt"):
        model.partial_fit([paths[0], paths[0] + "missing.txt"])
    for a, b in zip(model.model_.get_weights(), weights, strict=True):
        np.testing.assert_array_equal(a, b)
    assert id_files(own_tempdir) == []


def test_models_on_files_persist_and_take_text_prompts(file_model, paths, tmp_path):
    model = file_model
    want = model.generate("The ", max_new_tokens=8, random_state=1)
    model.save(tmp_path / "m.sklstm")
    for copy in (
        sklstm.load(tmp_path / "m.sklstm"),
        joblib.load(joblib.dump(model, tmp_path / "m.joblib")[0]),
    ):
        assert copy.sequencer_.input == "filename"
        assert copy.generate("The ", max_new_tokens=8, random_state=1) == want
        assert copy.score(paths) == pytest.approx(model.score(paths), rel=1e-6)


def test_bits_per_character_counts_the_characters_of_the_files(file_model, paths):
    model = file_model
    n_chars = sum(len(doc) + 1 for doc in DOCS)
    expected = -model.score_samples(paths).sum() / n_chars / np.log(2)
    assert sklstm.bits_per_character(model, paths) == pytest.approx(expected)
    with open(paths[0], "rb") as handle:
        reader = LSTMTextGenerator(sequencer=TextSequencer(input="file"), **TINY)
        reader.fit([handle])
        assert sklstm.bits_per_character(reader, [handle]) > 0


def test_files_train_under_a_distribution_strategy(paths):
    params = dict(TINY, validation_fraction=0.3)
    plain = LSTMTextGenerator(sequencer=TextSequencer(input="filename"), **params)
    mirrored = LSTMTextGenerator(
        sequencer=TextSequencer(input="filename"),
        distribution_strategy="mirrored",
        **params,
    )
    np.testing.assert_allclose(
        mirrored.fit(paths).history_["val_loss"],
        plain.fit(paths).history_["val_loss"],
        rtol=1e-5,
    )


@settings(max_examples=150, deadline=None, database=None)
@given(
    st.lists(
        st.text(alphabet=st.sampled_from("ab \n\t\u00e9\U0001f431.,'\u2003\x1c"))
        | st.text(),
        min_size=1,
        max_size=4,
    ),
    st.integers(1, 9),
)
def test_subword_pieces_encode_as_the_whole_text(docs, piece_chars):
    seq = SUBWORD_SEQUENCER
    whole = [
        np.asarray(enc.ids, np.int32)
        for enc in seq._subword_tokenizer().encode_batch(docs)
    ]
    old = _corpus.PIECE_CHARS
    _corpus.PIECE_CHARS = piece_chars
    try:
        pieces = seq.transform(docs)
    finally:
        _corpus.PIECE_CHARS = old
    for got, want in zip(pieces, whole, strict=True):
        np.testing.assert_array_equal(got, want)
    assert seq.inverse_transform(pieces) == docs


def test_file_names_in_a_numpy_array_are_read(paths):
    model = LSTMTextGenerator(sequencer=TextSequencer(input="filename"), **TINY)
    model.fit(np.array(paths))
    assert model.score(np.array(paths[:2])) == pytest.approx(model.score(paths[:2]))


def test_a_model_reading_files_names_what_it_expects():
    model = LSTMTextGenerator(sequencer=TextSequencer(input="filename"), **TINY)
    with pytest.raises(TypeError, match=r"iterable of file names .* got int"):
        model.fit(3)
    with pytest.raises(ValueError, match=r"single str.*\[path\]"):
        model.fit("corpus.txt")
    with pytest.raises(ValueError, match="at least one file; got none"):
        model.fit([])
