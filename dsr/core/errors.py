"""Refusals a person or a system may see, whichever page or API answers them."""

from __future__ import annotations


class PublicError(Exception):
    """A refusal with a stable ``code``, an HTTP ``status`` and a ``detail`` safe to show.

    The API answers it as ``{"error": code, "detail": detail}``, the pages as a form error,
    so the parts that raise these (verification, rate limits) never import a view.
    """

    code = "error"
    status = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail
