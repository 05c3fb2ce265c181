"""Logging filters: what reaches a log never carries a person's data in clear.

Django logs every SQL statement at DEBUG (under ``DEBUG``, or with a forced debug
cursor), values included. Our own tables hold only ciphertext and keyed hashes, but a
connector that reaches the host's models queries them by a person's email, in clear.
So statements keep their shape in the log, and lose their values.
"""

from __future__ import annotations

import logging
import re

# A quoted SQL literal, with '' standing for a quote inside it (and an E'' escape string).
_LITERAL = re.compile(r"'(?:[^']|'')*'")


def withhold_values(sql: str) -> str:
    return _LITERAL.sub("'…'", sql)


class WithholdSQLValues(logging.Filter):
    """For ``django.db.backends``: literals in the statement and its parameters are withheld."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "sql_values_withheld", False):
            return True  # already done by this filter on another logger or handler
        if isinstance(record.args, tuple) and len(record.args) == 4 and hasattr(record, "sql"):
            duration, sql, params, alias = record.args
            try:
                count = len(params)
            except TypeError:
                count = "?"
            masked = withhold_values(str(sql))
            record.args = (duration, masked, f"<{count} withheld>", alias)
            record.sql, record.params = masked, None
            record.sql_values_withheld = True
        return True
