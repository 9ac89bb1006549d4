"""Every example runs (with small settings), so none can rot."""

import contextlib
import io
import runpy
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run_example(name, *args, cwd):
    """Run ``python examples/NAME ARGS`` in ``cwd`` and return its standard
    output. It runs as ``__main__`` in this process, which has imported
    TensorFlow already (a fresh process for each would spend seconds on
    that); an example that starts a fresh process of its own still does."""
    argv = [str(EXAMPLES / name), *map(str, args)]
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.MonkeyPatch.context() as patch:
        patch.chdir(cwd)
        patch.setattr(sys, "argv", argv)
        try:
            runpy.run_path(argv[0], run_name="__main__")
        except SystemExit as exc:
            if exc.code not in (None, 0):
                pytest.fail(f"{name} exited with {exc.code!r}:\n{out.getvalue()}")
    return out.getvalue()


def is_png(path):
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_char_example_trains_generates_and_saves(tmp_path):
    pytest.importorskip("matplotlib")
    out = run_example(
        "char_python_docs.py", "--epochs", "1", "--units", "16", "--max-docs", "20",
        "--output", "model.sklstm", "--plot", "curves.png", cwd=tmp_path,
    )  # fmt: skip
    assert "Trained 1 epochs" in out
    assert out.count("--- temperature") == 3
    assert (tmp_path / "model.sklstm").stat().st_size > 0
    assert "Saved the learning curves to curves.png" in out
    assert is_png(tmp_path / "curves.png")


@pytest.mark.slow
def test_classic_word_recipe_example_runs(tmp_path):
    out = run_example(
        "classic_word_recipe.py", "--epochs", "1", "--max-docs", "20", cwd=tmp_path
    )
    assert "Held-out cross-entropy" in out
    assert "--- greedy ---" in out


@pytest.mark.slow
def test_grid_search_heatmap_example_prints_the_table_and_saves_a_heatmap(tmp_path):
    pytest.importorskip("matplotlib")
    out = run_example(
        "grid_search_heatmap.py", "--units", "4,8", "--sequence-lengths", "8",
        "--epochs", "1", "--cv", "2", "--max-docs", "6", "--output", "heat.png",
        cwd=tmp_path,
    )  # fmt: skip
    assert "Searched 2 candidates x 2 folds" in out
    table = out.split("fit time (s)\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert len(table) == 2  # one row per candidate
    assert sorted(int(row.split()[1]) for row in table) == [4, 8]
    assert "held-out bits per character" in out and "--- best model" in out
    assert "Saved the heatmap to heat.png" in out
    assert is_png(tmp_path / "heat.png")


@pytest.mark.slow
def test_pipeline_persistence_example_reloads_identical_models(tmp_path):
    out = run_example(
        "pipeline_persistence.py", "--epochs", "1", "--units", "8",
        "--max-docs", "10", "--folder", "models", cwd=tmp_path,
    )  # fmt: skip
    assert "Identical after reloading: True" in out
    assert (tmp_path / "models" / "pipeline.joblib").stat().st_size > 0
    assert (tmp_path / "models" / "model.sklstm").stat().st_size > 0


@pytest.mark.slow
def test_streaming_example_trains_or_loads_and_streams(tmp_path):
    common = ["--max-new-tokens", "40", "--prompt", "The ", "--stop", r"\n\n"]
    out = run_example(
        "streaming_generation.py", "--epochs", "1", "--units", "8",
        "--max-docs", "5", "--save", "small.sklstm", *common, cwd=tmp_path,
    )  # fmt: skip
    assert "Saved the model to small.sklstm" in out
    assert "\nThe " in out and " pieces, " in out
    assert "returns the same text" in out
    again = run_example(
        "streaming_generation.py", "--model", "small.sklstm", *common, cwd=tmp_path
    )
    assert "Training" not in again

    def streamed(output):
        return output.split("--- streaming")[1].split(" pieces, ")[0]

    # The same model, prompt and seed stream the same text.
    assert streamed(again) == streamed(out)


@pytest.mark.slow
def test_python_source_example_trains_on_the_standard_library(tmp_path):
    out = run_example(
        "python_source_model.py", "--max-files", "6", "--max-bytes", "40000",
        "--epochs", "1", "--units", "8", "--sequence-length", "32",
        "--max-new-tokens", "40", "--output", "src.sklstm", cwd=tmp_path,
    )  # fmt: skip
    assert "Corpus: 6 files of the standard library" in out
    assert "Trained 1 epochs" in out
    assert out.count("--- prompt ") == 3 and "\ndef " in out
    assert (tmp_path / "src.sklstm").stat().st_size > 0


@pytest.mark.slow
def test_corpus_from_files_example_streams_a_folder(tmp_path):
    folder = tmp_path / "texts"
    (folder / "sub").mkdir(parents=True)
    for i in range(6):
        text = f"def f{i}(x):\n    return x + {i}\n\n" * 40
        (folder / ("sub" if i % 2 else "") / f"m{i}.py").write_text(text)
    (folder / "skip.txt").write_text("not read")
    out = run_example(
        "corpus_from_files.py", str(folder), "--max-time", "3", "--units", "8",
        "--sequence-length", "16", "--max-new-tokens", "10",
        "--output", "files.sklstm", cwd=tmp_path,
    )  # fmt: skip
    assert "Corpus: 6 files" in out and "streamed from disk" in out
    assert "bits per character" in out and "peak memory" in out
    assert out.count("--- prompt ") == 3
    assert (tmp_path / "files.sklstm").stat().st_size > 0
