"""scikit-learn's generated estimator checks on integer id input."""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklstm import LSTMTextGenerator

EXPECTED_FAILED_CHECKS = {
    "check_n_features_in_after_fitting": (
        "contexts of any length are valid input: a model fitted on padded rows "
        "of width n predicts after rows of any other width"
    ),
}


@parametrize_with_checks(
    [
        LSTMTextGenerator(
            embedding_dim=4,
            units=8,
            sequence_length=4,
            batch_size=16,
            epochs=1,
            validation_fraction=0,
            random_state=0,
        )
    ],
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


# The checks' data sets are shorter than one window of the default
# sequence_length (100): they train on the longest windows they hold, and
# say so in a warning.
@pytest.mark.filterwarnings(
    "ignore:The training text has .* fewer than the 101 that one window:UserWarning"
)
@parametrize_with_checks(
    [LSTMTextGenerator(units=8, epochs=1)],
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS,
)
def test_sklearn_compatible_at_default_parameters(estimator, check):
    check(estimator)
