"""Refuse an oversized body before anything reads it: small for the public, larger for systems."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse


class BodySizeLimit:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        system = request.path.startswith("/api/v1/systems/")
        limit = settings.DSR_MAX_SYSTEM_BODY_BYTES if system else settings.DSR_MAX_BODY_BYTES
        if length > limit:
            body = {"error": "too_large", "detail": f"The request body is larger than {limit} bytes.", "fields": {}}
            if request.path.startswith("/api/"):
                return JsonResponse(body, status=413)
            return HttpResponse(body["detail"], status=413, content_type="text/plain")
        return self.get_response(request)
