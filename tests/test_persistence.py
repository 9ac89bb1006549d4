"""The safe file format: save, load, atomic writes, refusing bad files."""

import json
import os
import zipfile

import joblib
import keras
import numpy as np
import pytest

import sklstm
from sklstm import LSTMTextGenerator, TextSequencer

DOCS = [
    "the cat sat on the mat. the dog sat on the log. " * 4,
    "a bird sang in the tree while the cat slept. " * 4,
]


@pytest.fixture(scope="module")
def model():
    return LSTMTextGenerator(
        sequencer=TextSequencer(level="word", strip_punctuation=False),
        embedding_dim=4,
        units=(8, 6),
        dense_units=5,
        sequence_length=6,
        epochs=2,
        validation_fraction=0,
        random_state=0,
    ).fit(DOCS)


@pytest.fixture(scope="module")
def saved(model, tmp_path_factory):
    path = tmp_path_factory.mktemp("saved") / "model.sklstm"
    assert model.save(path) is model
    return path


def test_round_trip_gives_the_same_model(model, saved):
    loaded = sklstm.load(saved)
    assert isinstance(loaded, LSTMTextGenerator)
    assert loaded.get_params()["units"] == (8, 6)
    assert loaded.sequencer.get_params() == model.sequencer.get_params()
    assert loaded.sequencer_.vocabulary_ == model.sequencer_.vocabulary_
    assert loaded.history_ == model.history_
    assert (loaded.n_epochs_, loaded.best_epoch_) == (
        model.n_epochs_,
        model.best_epoch_,
    )
    np.testing.assert_array_equal(loaded.predict_proba(DOCS), model.predict_proba(DOCS))
    for seed in (0, 1):
        assert loaded.generate("the", max_new_tokens=15, random_state=seed) == (
            model.generate("the", max_new_tokens=15, random_state=seed)
        )


def test_loaded_model_keeps_training(saved):
    loaded = sklstm.load(saved)
    loaded.set_params(warm_start=True, epochs=1).fit(DOCS)
    assert loaded.n_epochs_ == 3


def test_model_fitted_on_ids_round_trips(tmp_path):
    ids = np.array([[3, 4, 5, 6, 7, 3, 4, 5, 6, 7]] * 4)
    fitted = LSTMTextGenerator(
        embedding_dim=4, units=6, sequence_length=4, epochs=1,
        validation_fraction=0, random_state=0,
    ).fit(ids)  # fmt: skip
    fitted.save(tmp_path / "ids.sklstm")
    loaded = sklstm.load(tmp_path / "ids.sklstm")
    assert loaded.sequencer_ is None and loaded.n_features_in_ == 10
    np.testing.assert_array_equal(loaded.predict(ids), fitted.predict(ids))


def test_save_replaces_atomically_and_a_failed_save_leaves_the_old_file(
    model, tmp_path, monkeypatch
):
    path = tmp_path / "model.sklstm"
    model.save(path)
    good = path.read_bytes()

    def broken_save(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(model.model_, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    assert path.read_bytes() == good
    assert os.listdir(tmp_path) == ["model.sklstm"]  # no partial file left


def test_save_needs_a_fitted_model(tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        LSTMTextGenerator().save(tmp_path / "x.sklstm")


@pytest.mark.parametrize("keep", [0, 10, 100, 0.5, -30])
def test_truncated_files_are_refused(saved, tmp_path, keep):
    data = saved.read_bytes()
    cut = int(len(data) * keep) if isinstance(keep, float) else keep
    path = tmp_path / "cut.sklstm"
    path.write_bytes(data[:cut])
    with pytest.raises(ValueError, match="is not a readable sklstm model file"):
        sklstm.load(path)


def test_flipped_bytes_are_refused_or_harmless(model, saved, tmp_path):
    data = saved.read_bytes()
    rng = np.random.default_rng(0)
    refused = 0
    for trial in range(25):
        damaged = bytearray(data)
        for position in rng.integers(0, len(data), size=3):
            damaged[position] ^= 0xFF
        path = tmp_path / f"flip{trial}.sklstm"
        path.write_bytes(bytes(damaged))
        try:
            loaded = sklstm.load(path)
        except ValueError as exc:
            assert "is not a readable sklstm model file" in str(exc)
            refused += 1
        else:  # the flips hit bytes that carry nothing
            np.testing.assert_array_equal(
                loaded.predict_proba(DOCS), model.predict_proba(DOCS)
            )
    assert refused >= 20


def rewrite(saved, tmp_path, meta=None, keras_file=None):
    """Copy of ``saved`` with its JSON or Keras archive replaced."""
    path = tmp_path / "edited.sklstm"
    with zipfile.ZipFile(saved) as src, zipfile.ZipFile(path, "w") as dst:
        current = json.loads(src.read("sklstm.json"))
        dst.writestr("sklstm.json", json.dumps(meta(current) if meta else current))
        if keras_file is None:
            dst.writestr("model.keras", src.read("model.keras"))
        else:
            dst.write(keras_file, "model.keras")
    return path


def test_archives_with_lambda_layers_are_refused(saved, tmp_path):
    ids = keras.Input(shape=(None,), dtype="int32")
    x = keras.layers.Embedding(20, 4, name="embedding")(ids)
    x = keras.layers.Lambda(lambda t: t * 2)(x)
    logits = keras.layers.Dense(20, name="logits")(x)
    keras_file = tmp_path / "lambda.keras"
    keras.Model(ids, logits).save(keras_file)
    path = rewrite(saved, tmp_path, keras_file=keras_file)
    with pytest.raises(
        ValueError, match=r"classes sklstm never builds: \[.*'keras.layers.Lambda'\]"
    ):
        sklstm.load(path)


def test_archives_with_unknown_classes_are_refused(saved, tmp_path):
    keras_file = tmp_path / "custom.keras"
    with zipfile.ZipFile(saved) as src:
        inner = src.read("model.keras")
    (tmp_path / "orig.keras").write_bytes(inner)
    with (
        zipfile.ZipFile(tmp_path / "orig.keras") as a,
        zipfile.ZipFile(keras_file, "w") as b,
    ):
        for item in a.infolist():
            content = a.read(item.filename)
            if item.filename == "config.json":
                old = b'"keras.layers", "class_name": "Dense"'
                content = content.replace(old, old.replace(b"keras", b"mypackage"))
                assert b"mypackage" in content
            b.writestr(item, content)
    with pytest.raises(ValueError, match=r"mypackage.layers.Dense"):
        sklstm.load(rewrite(saved, tmp_path, keras_file=keras_file))


def test_newer_format_and_foreign_files_get_clear_errors(saved, tmp_path):
    newer = rewrite(saved, tmp_path, meta=lambda m: {**m, "format_version": 99})
    with pytest.raises(ValueError, match="format version 99; .* Upgrade sklstm"):
        sklstm.load(newer)
    foreign = tmp_path / "notes.txt"
    foreign.write_text("hello")
    with pytest.raises(ValueError, match="not an intact zip archive"):
        sklstm.load(foreign)
    with pytest.raises(FileNotFoundError):
        sklstm.load(tmp_path / "missing.sklstm")
    pickled = tmp_path / "model.joblib"
    joblib.dump({"not": "run"}, pickled)
    with pytest.raises(ValueError, match="it is a pickle .* joblib.load, and only if"):
        sklstm.load(pickled)
    broken_json = rewrite(saved, tmp_path, meta=lambda m: {"format": "other"})
    with pytest.raises(ValueError, match="does not describe an sklstm model"):
        sklstm.load(broken_json)


def test_numpy_parameter_values_are_saved_as_plain_numbers(tmp_path):
    fitted = LSTMTextGenerator(
        embedding_dim=np.int64(4), units=(np.int64(6),), learning_rate=np.float32(0.01),
        sequence_length=6, epochs=1, validation_fraction=0, random_state=np.int64(3),
    ).fit(DOCS)  # fmt: skip
    fitted.save(tmp_path / "np.sklstm")
    loaded = sklstm.load(tmp_path / "np.sklstm")
    assert loaded.embedding_dim == 4 and loaded.units == (6,)
    assert loaded.random_state == 3
    assert loaded.learning_rate == pytest.approx(0.01)
