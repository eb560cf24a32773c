"""The log's formatter: one line per event, whatever a logged value holds."""

import logging
import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def escape_controls(text: str) -> str:
    """Return the text with every control character written as its escape (a newline as \\n)."""
    return _CONTROL.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"), text)


class OneLineFormatter(logging.Formatter):
    """Escape control characters in the message, so no logged value can forge a line (tracebacks stay)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        """Return the formatted message with its control characters escaped."""
        safe = logging.makeLogRecord(record.__dict__)
        safe.message = escape_controls(record.message)
        return super().formatMessage(safe)
