"""Accuracy and macro-F1 against hand computations."""

import pytest

from xlprompt.evaluate import classification_metrics


def test_macro_f1_and_accuracy_by_hand():
    # class 0: 1 right of 1 gold, 1 predicted -> F1 1; class 1: 0 of 1 -> 0; class 2: 2 right, 2 gold, 3 predicted
    # -> 2*2/5 = 0.8; macro-F1 = (1 + 0 + 0.8) / 3
    out = classification_metrics([0, 1, 2, 2], [0, 2, 2, 2], 3)
    assert out["accuracy"] == pytest.approx(75.0)
    assert out["macro_f1"] == pytest.approx(100 * 1.8 / 3)
    assert out["counts"][2] == {"gold": 2, "predicted": 3, "correct": 2}


def test_a_class_never_seen_scores_zero_and_an_out_of_range_prediction_is_wrong():
    out = classification_metrics([0, 0], [0, 3], 2)  # 3: predict_over=vocab's "no label word"
    assert out["accuracy"] == pytest.approx(50.0)
    # class 0: 2*1/(2+1); class 1: absent everywhere -> 0
    assert out["macro_f1"] == pytest.approx(100 * (2 / 3) / 2)
    assert classification_metrics([], [], 3)["macro_f1"] == 0.0
    with pytest.raises(ValueError):
        classification_metrics([0], [], 3)
