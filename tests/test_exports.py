import pytest

from opencity.exports import spreadsheet_safe


@pytest.mark.parametrize("text", ["=1+1", "+380", "-2", "@SUM(A1)", "\tx", "\rx"])
def test_formula_like_text_stays_text(text):
    assert spreadsheet_safe(text) == "'" + text


@pytest.mark.parametrize("value", ["Парк", "", 12, None])
def test_other_values_are_untouched(value):
    assert spreadsheet_safe(value) == value
