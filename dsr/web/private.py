"""Answers that may carry personal data are never stored by a browser or a shared cache."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers

# Our own files (WhiteNoise sets their caching) are the only answers meant to be kept.
_KEPT = ("/static/",)


class NoStore:
    """``Cache-Control: no-store`` (and Django's other never-cache headers) on every answer the
    app makes, unless it set its own: the status page, a download, the desk and both APIs carry
    personal data, and a rule by page would miss the next page someone adds."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path.startswith(_KEPT) and "Cache-Control" not in response:
            add_never_cache_headers(response)
        return response
