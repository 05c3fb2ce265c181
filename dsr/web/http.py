"""Small HTTP pieces the API and the pages share: the bearer token, a ZIP download."""

from __future__ import annotations

from typing import Any

from django.http import StreamingHttpResponse
from rest_framework.request import Request


def bearer_token(request: Request) -> str:
    """The ``Authorization: Bearer`` token; never one from the address, which access logs keep."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[7:].strip()
    return ""


def zip_response(subject_request: Any, item: Any, chunks: Any) -> StreamingHttpResponse:
    """A bundle download: streamed, its size announced, never cached."""
    response = StreamingHttpResponse(chunks, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{subject_request.reference}.zip"'
    response["Content-Length"] = str(item.size)
    response["Cache-Control"] = "no-store"
    return response
