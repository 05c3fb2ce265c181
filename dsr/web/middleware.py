"""Refuse an oversized body before anything reads it: small for the public, larger for systems
and for the one desk form that takes a file (a document found while doing a manual task).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.locale import LocaleMiddleware
from django.utils import translation

from dsr.core.i18n import DESK_LANGUAGE

# Ticking off a job with a file, on the desk page (the officer API takes JSON only).
_UPLOAD_PATHS = re.compile(r"^/desk/jobs/[^/]+/complete/$")
# Room for a multipart body's boundaries and its other fields, on top of the file itself.
_MULTIPART_OVERHEAD = 64 * 1024


def body_limit(path: str) -> int:
    if path.startswith("/api/v1/systems/"):
        return settings.DSR_MAX_SYSTEM_BODY_BYTES
    if _UPLOAD_PATHS.match(path):
        return max(settings.DSR_MAX_UPLOAD_BYTES + _MULTIPART_OVERHEAD, settings.DSR_MAX_BODY_BYTES)
    return settings.DSR_MAX_BODY_BYTES


class BodySizeLimit:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = body_limit(request.path)
        if length > limit:
            detail = f"The request body is larger than {limit} bytes."
            if _UPLOAD_PATHS.match(request.path):
                detail = f"The file is too large: at most {settings.DSR_MAX_UPLOAD_BYTES / 2**20:g} MB."
            body = {"error": "too_large", "detail": detail, "fields": {}}
            if request.path.startswith("/api/"):
                return JsonResponse(body, status=413)
            return HttpResponse(body["detail"], status=413, content_type="text/plain")
        return self.get_response(request)


# Officers' pages and the officer API: English whatever the browser asks (the desk's texts
# are written for the privacy team, not translated).
_DESK_PATHS = re.compile(r"^/(desk/|admin/|api/v1/desk/)")


class Language(LocaleMiddleware):
    """Django's LocaleMiddleware (the switcher's cookie, else Accept-Language), English on the desk."""

    def process_request(self, request: HttpRequest) -> None:
        if _DESK_PATHS.match(request.path_info):
            translation.activate(DESK_LANGUAGE)
            request.LANGUAGE_CODE = DESK_LANGUAGE
            return
        super().process_request(request)
