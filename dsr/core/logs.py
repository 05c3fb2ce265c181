"""Logging filters: what reaches a log never carries a person's data in clear.

Django logs every SQL statement at DEBUG (under ``DEBUG``, or with a forced debug
cursor), values included. Our own tables hold only ciphertext and keyed hashes, but a
connector that reaches the host's models queries them by a person's email, in clear.
So statements keep their shape in the log, and lose their values.

Two public paths carry a token in the path itself: the emails' status link
(``/requests/<ref>/open/<token>/``) and verification link (``/requests/<ref>/verify/<token>/``).
Django logs a path it answers with a 4xx or 5xx, and gunicorn logs every path; both
write such a token as ``[token]``.
"""

from __future__ import annotations

import logging
import re

# A quoted SQL literal, with '' standing for a quote inside it (and an E'' escape string).
_LITERAL = re.compile(r"'(?:[^']|'')*'")


# A token in the path of an emailed link, anywhere in a line of text.
_TOKEN_IN_PATH = re.compile(r"(/requests/[^/\s]+/(?:open|verify)/)[^/\s?]+")


def withhold_path_tokens(text: str) -> str:
    return _TOKEN_IN_PATH.sub(r"\1[token]", text)


class WithholdPathTokens(logging.Filter):
    """For the console handler: a token in a logged path (Django's "Not Found: <path>") is withheld."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(withhold_path_tokens(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = withhold_path_tokens(record.msg)
        return True


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
