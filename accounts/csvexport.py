"""Writing CSV for spreadsheets: one rule against formula injection, and lines streamed as they are made."""

import csv
from collections.abc import Iterable, Iterator

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value) -> str:
    """Return a cell a spreadsheet will not run: text starting with = + - @ (or tab, CR) gets a quote."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class _Echo:
    """A file-like object whose write returns the line, for streaming csv.writer output."""

    def write(self, value):
        return value


def lines(header: list[str], rows: Iterable[Iterable]) -> Iterator[str]:
    """Yield the CSV lines: the header, then each row with every cell neutralised."""
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([neutralise(value) for value in row])
