"""The options of ``sklstm train``: the estimator's parameters and defaults."""

import re

from sklstm import LSTMTextGenerator
from sklstm.cli import main


def test_train_help_shows_the_estimators_defaults(capsys):
    assert main(["train", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    options = out.split("options:", 1)[1]  # past the usage line
    defaults = LSTMTextGenerator().get_params()
    for option, name in [
        ("--epochs", "epochs"),
        ("--embedding-dim", "embedding_dim"),
        ("--sequence-length", "sequence_length"),
        ("--learning-rate", "learning_rate"),
        ("--validation-fraction", "validation_fraction"),
    ]:
        shown = re.search(rf"{option} \S+ .*?\(default: ([^)]*)\)", options)
        assert shown and shown.group(1) == str(defaults[name]), option
    assert "blank lines" in out  # a single file is split into paragraphs
    assert "sklstm train" in out  # examples


def test_train_options_set_the_estimator_parameters_they_name():
    from sklstm.cli import TRAIN_OPTIONS, build_parser, library_defaults, train_params

    defaults = library_defaults()[0]
    rows = [option for option in TRAIN_OPTIONS if option.param is not None]
    assert len(rows) >= 10 and all(option.param in defaults for option in rows)
    parser = build_parser("train")
    given = ["--units", "8,4", "--dropout", "0.25", "--level", "word"]
    params = train_params(parser.parse_args(["train", *given]), LSTMTextGenerator())
    assert params.pop("units") == (8, 4) and params.pop("dropout") == 0.25
    assert params.pop("sequencer__level") == "word"
    assert params == {name: defaults[name] for name in params}  # the rest
    assert "max_time" not in params  # passed only when given
    args = parser.parse_args(["train", "--max-time", "3"])
    assert train_params(args, LSTMTextGenerator())["max_time"] == 3.0
    for text, rate in [("0.3", 0.3), ("auto", "auto"), ("AUTO", "auto")]:
        args = parser.parse_args(["train", "--weight-dropout", text])
        assert train_params(args, LSTMTextGenerator())["weight_dropout"] == rate
