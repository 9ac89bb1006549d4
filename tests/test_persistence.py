"""The safe file format: save, load, atomic writes, refusing bad files."""

import json
import os
import re
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

# Padded rows of token ids, for the model fitted on ids.
IDS = np.array([[3, 4, 5, 6, 7, 3, 4, 5, 6, 7]] * 4)


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


def test_model_fitted_on_ids_round_trips(ids_model, tmp_path):
    ids = IDS
    fitted = ids_model
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


# ------------------------------------------------------ fitted attributes
def fitted_attributes(estimator):
    """The public fitted attributes of ``estimator`` (names ending in ``_``)."""
    params = estimator.get_params(deep=False)
    return {
        name
        for name in vars(estimator)
        if name.endswith("_") and not name.startswith("_") and name not in params
    }


def assert_same_fitted_state(copy, original):
    """``copy`` has the fitted attributes of ``original``, with equal values."""
    assert fitted_attributes(copy) == fitted_attributes(original)
    for name in fitted_attributes(original):
        mine, theirs = getattr(copy, name), getattr(original, name)
        if name == "model_":
            # As JSON: a network built in this process holds tuples where a
            # loaded one holds lists.
            assert json.loads(mine.to_json()) == json.loads(theirs.to_json())
            for a, b in zip(mine.get_weights(), theirs.get_weights(), strict=True):
                np.testing.assert_array_equal(a, b)
        elif name == "sequencer_" and theirs is not None:
            assert mine.get_params() == theirs.get_params()
            assert mine.__sklstm_get_state__() == theirs.__sklstm_get_state__()
            assert mine.vocabulary_ == theirs.vocabulary_
        else:
            assert mine == theirs, name
            assert type(mine) is type(theirs), name


@pytest.fixture(scope="module")
def ids_model():
    ids = IDS
    return LSTMTextGenerator(
        embedding_dim=4, units=6, sequence_length=4, epochs=1, stateful=True,
        validation_fraction=0, random_state=0,
    ).fit(ids)  # fmt: skip


@pytest.mark.parametrize("which", ["model", "ids_model"])
def test_load_keeps_every_fitted_attribute_that_joblib_keeps(which, request, tmp_path):
    fitted = request.getfixturevalue(which)
    joblib.dump(fitted, tmp_path / "model.joblib")
    fitted.save(tmp_path / "model.sklstm")

    pickled = joblib.load(tmp_path / "model.joblib")
    loaded = sklstm.load(tmp_path / "model.sklstm")

    assert {"stateful_", "training_time_", "training_kernel_"} <= (
        fitted_attributes(loaded)
    )
    assert ("n_features_in_" in fitted_attributes(loaded)) == (which == "ids_model")
    assert_same_fitted_state(loaded, pickled)
    assert_same_fitted_state(loaded, fitted)


def test_fitted_attributes_are_declared_once_and_documented(model, ids_model):
    from sklstm._state import FITTED

    declared = [attribute.name for attribute in FITTED]
    assert fitted_attributes(model) | fitted_attributes(ids_model) == set(declared)
    doc = LSTMTextGenerator.__doc__
    section = doc[doc.index("Attributes\n") : doc.index("See Also\n")]
    entries = re.findall(r"^    (\w+) : ", section, flags=re.MULTILINE)
    assert entries == declared
    assert "    training_time_ : float\n        Seconds the last ``fit``" in section


def test_values_of_the_wrong_kind_are_refused(saved, tmp_path):
    path = rewrite(saved, tmp_path, meta=lambda m: {**m, "stateful": "yes"})
    with pytest.raises(
        ValueError, match=r"inconsistent .*stateful: expected true or false; got 'yes'"
    ):
        sklstm.load(path)
    path = rewrite(saved, tmp_path, meta=lambda m: {**m, "training_kernel": "cuda"})
    with pytest.raises(ValueError, match=r"training_kernel: expected 'fused' or"):
        sklstm.load(path)
    path = rewrite(saved, tmp_path, meta=lambda m: {**m, "n_epochs": None})
    with pytest.raises(ValueError, match=r"n_epochs: expected an int; got None"):
        sklstm.load(path)


def test_the_next_format_version_is_refused(saved, tmp_path):
    from sklstm.persistence import FORMAT_VERSION

    newer = FORMAT_VERSION + 1
    path = rewrite(saved, tmp_path, meta=lambda m: {**m, "format_version": newer})
    with pytest.raises(
        ValueError,
        match=f"format version {newer}; this sklstm reads versions up to "
        f"{FORMAT_VERSION}. Upgrade sklstm",
    ):
        sklstm.load(path)


# ------------------------------------------------------ format version 2
def save_format_2(estimator, path):
    """Write ``estimator`` (char or word level, or fitted on ids) in format
    version 2, as sklstm wrote it before version 3.

    The JSON is built exactly as ``persistence.save`` built it then (the
    fitted attributes it knew, ``n_features_in`` null when absent); the
    network is the same Keras archive.
    """
    params = estimator.get_params(deep=False)
    sequencer = params.pop("sequencer")
    params["sequencer"] = None if sequencer is None else sequencer.get_params()
    params["callbacks"] = None
    strategy = params.pop("distribution_strategy", None)
    if isinstance(strategy, str):
        params["distribution_strategy"] = strategy
    if params.get("training_kernel") == "auto":
        del params["training_kernel"]
    seed = params["random_state"]
    params["random_state"] = int(seed) if isinstance(seed, int) else None
    if isinstance(params["units"], tuple):
        params["units"] = list(params["units"])
    seq = estimator.sequencer_
    seq_state = None
    if seq is not None:
        seq_state = {"params": seq.get_params(), "tokens": list(seq.vocabulary_)}
    meta = {
        "format": "sklstm-model",
        "format_version": 2,
        "sklstm_version": "0.1.0",
        "keras_version": keras.__version__,
        "params": params,
        "sequencer": seq_state,
        "vocab_size": int(estimator.vocab_size_),
        "history": estimator.history_,
        "n_epochs": int(estimator.n_epochs_),
        "best_epoch": int(estimator.best_epoch_),
        "n_features_in": (
            int(estimator.n_features_in_)
            if hasattr(estimator, "n_features_in_")
            else None
        ),
    }
    keras_file = os.fspath(path) + ".keras"
    estimator.model_.save(keras_file)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("sklstm.json", json.dumps(meta, indent=1))
        archive.write(keras_file, "model.keras")
    os.unlink(keras_file)


@pytest.mark.parametrize("which", ["model", "ids_model"])
def test_files_of_format_version_2_still_load(which, request, tmp_path):
    fitted = request.getfixturevalue(which)
    path = tmp_path / "v2.sklstm"
    save_format_2(fitted, path)
    X = DOCS if which == "model" else IDS

    loaded = sklstm.load(path)

    # What format version 2 held comes back; what it did not hold is absent.
    unsaved = {
        "stateful_",
        "training_time_",
        "training_kernel_",
        "weight_dropout_",
        "dropout_",
    }
    assert fitted_attributes(loaded) == fitted_attributes(fitted) - unsaved
    assert loaded.get_params()["units"] == fitted.get_params()["units"]
    assert loaded.history_ == fitted.history_
    np.testing.assert_array_equal(loaded.predict_proba(X), fitted.predict_proba(X))
    # Saved again, it is a file of this format that still lacks them.
    loaded.save(tmp_path / "again.sklstm")
    with zipfile.ZipFile(tmp_path / "again.sklstm") as archive:
        meta = json.loads(archive.read("sklstm.json"))
    assert meta["format_version"] == 3 and meta["stateful"] is None
    again = sklstm.load(tmp_path / "again.sklstm")
    assert fitted_attributes(again) == fitted_attributes(loaded)
    # And it trains on, which records the attributes anew.
    again.set_params(warm_start=True, epochs=1).fit(X)
    assert unsaved <= fitted_attributes(again)
