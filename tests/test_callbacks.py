"""The callbacks of ``sklstm.callbacks`` at work during ``fit``."""

import io
import sys

from corpora import ANIMALS as DOCS
from helpers import quick_generator as tiny

from sklstm.callbacks import SampleText


def test_sample_text_prints_generated_text_every_n_epochs():
    out = io.StringIO()
    tiny(epochs=4, callbacks=[SampleText(every=2, prompt="the ", file=out)]).fit(DOCS)
    lines = [line for line in out.getvalue().splitlines() if line]
    assert [line.split("]")[0] for line in lines] == ["[epoch 2", "[epoch 4"]
    assert all(
        line.startswith(f"[epoch {e}] the ")
        for e, line in zip((2, 4), lines, strict=True)
    )


def test_callbacks_holding_open_files_work(capsys):
    callback = SampleText(every=1, prompt="a ", max_new_tokens=5, file=sys.stdout)
    tiny(epochs=1, callbacks=[callback]).fit(DOCS)
    assert capsys.readouterr().out.startswith("\n[epoch 1] a ")
