"""Helpers for files people open in spreadsheets (CSV and XLSX exports)."""

# A cell starting with one of these is run as a formula by spreadsheets (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value):
    """Text that a spreadsheet would run as a formula is prefixed with ' to stay text."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value
