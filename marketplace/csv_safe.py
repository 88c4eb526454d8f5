"""CSV that a spreadsheet opens as data, never as formulas (OWASP "CSV injection").

Every CSV this project writes goes through `csv_writer` (a test scans the source for any other `csv.writer`).
Text cells that a spreadsheet would read as a formula or a DDE call get a leading apostrophe, which Excel,
LibreOffice and Google Sheets show as plain text. Leading spaces and quotes are skipped before the check,
because spreadsheets skip them too before deciding a cell is a formula.

Only `str` values are touched. Our own numeric columns (amounts, ids, counts, confidences) are written as
int, float, Decimal or bool, so a negative amount such as -500 stays a number finance can add up; any text
that reaches a cell, including a number a client or worker typed, is neutralised.
"""

import csv
from typing import Any

# = + - @ start formulas; tab and CR can hide one; the fullwidth forms are read as their ASCII twins by some
# spreadsheets' input methods.
FORMULA_STARTS = frozenset("=+-@\t\r\uff1d\uff0b\uff0d\uff20")
_SKIPPED_BEFORE = " \"'\n\u00a0"


def spreadsheet_safe(value: Any) -> Any:
    """The cell as written: text that could start a formula gets a leading apostrophe; other values pass."""
    if not isinstance(value, str):
        return value
    if value[:1] in FORMULA_STARTS or value.lstrip(_SKIPPED_BEFORE)[:1] in FORMULA_STARTS:
        return "'" + value
    return value


class _SafeWriter:
    """csv.writer with every cell passed through `spreadsheet_safe`."""

    def __init__(self, out, **kwargs):
        self._writer = csv.writer(out, **kwargs)

    def writerow(self, row):
        return self._writer.writerow([spreadsheet_safe(cell) for cell in row])

    def writerows(self, rows):
        for row in rows:
            self.writerow(row)


def csv_writer(out, **kwargs) -> _SafeWriter:
    """The only CSV writer to use in this project (same arguments as csv.writer)."""
    return _SafeWriter(out, **kwargs)
