"""Writing CSV for spreadsheets: one rule against formula injection, and lines streamed as they are made.

Every export goes through `lines`: every cell quoted, and every cell a spreadsheet could run neutralised,
including one that only becomes a formula when a spreadsheet splits it on another separator.
"""

import csv
import re
from collections.abc import Iterable, Iterator

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A formula start right after a separator a spreadsheet may split on: ';' ',' tab, a line break.
_FORMULA_AFTER_SEPARATOR = re.compile(r"[;,\t\r\n][=+\-@]")


def neutralise(value) -> str:
    """Return a cell a spreadsheet will not run: one that starts, or after a separator goes on, with = + - @."""
    text = "" if value is None else str(value)
    runnable = text.startswith(FORMULA_STARTS) or _FORMULA_AFTER_SEPARATOR.search(text)
    return "'" + text if runnable else text


class _Echo:
    """A file-like object whose write returns the line, for streaming csv.writer output."""

    def write(self, value):
        return value


def lines(header: list[str], rows: Iterable[Iterable]) -> Iterator[str]:
    """Yield the CSV lines: the header, then each row; every cell quoted and neutralised."""
    writer = csv.writer(_Echo(), quoting=csv.QUOTE_ALL)
    yield writer.writerow([neutralise(value) for value in header])
    for row in rows:
        yield writer.writerow([neutralise(value) for value in row])
