"""One error shape for the whole API: {"error": code, "detail": text, "fields": {...}}."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.http import Http404, JsonResponse
from drf_spectacular.utils import inline_serializer
from rest_framework import exceptions, status
from rest_framework import serializers as drf
from rest_framework.response import Response

from dsr.core.errors import PublicError

from .ratelimit import RateLimited

_CODES = {
    exceptions.ParseError: "malformed_json",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.Throttled: "rate_limited",
}


#: The error shape, for the OpenAPI schema of every view.
ErrorSerializer = inline_serializer(
    "Error",
    {"error": drf.CharField(), "detail": drf.CharField(), "fields": drf.DictField()},
)


def error_body(code: str, detail: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": code, "detail": detail, "fields": fields or {}}


def _flatten(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _flatten(item) for key, item in value.items()}
    if isinstance(value, list):
        if all(isinstance(item, str) for item in value):
            return [str(item) for item in value]
        return [_flatten(item) for item in value]
    return [str(value)]


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        if isinstance(detail, dict):
            fields = _flatten(detail)
            general = fields.pop("non_field_errors", None)
            message = general[0] if general else "Some fields are not valid."
            return Response(error_body("invalid", message, fields), status=400)
        messages = _flatten(detail)
        return Response(error_body("invalid", messages[0] if messages else "Invalid input."), 400)
    if isinstance(exc, PublicError):
        return Response(error_body(exc.code, exc.detail), status=exc.status)
    if isinstance(exc, RateLimited):
        return Response(error_body("rate_limited", exc.detail), status=429,
                        headers={"Retry-After": str(exc.retry_after)})
    if isinstance(exc, RequestDataTooBig):
        return Response(error_body("too_large", "The request body is too large."), status=413)
    if isinstance(exc, SuspiciousOperation):
        return Response(error_body("bad_request", "The request could not be read."), status=400)
    if isinstance(exc, Http404):
        return Response(error_body("not_found", str(exc) or "Not found."), status=404)
    if isinstance(exc, PermissionDenied):
        return Response(error_body("permission_denied", "Not allowed."), status=403)
    if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
        # Our tokens are bearer tokens: always 401 with a challenge, never DRF's 403 fallback.
        code = "not_authenticated" if isinstance(exc, exceptions.NotAuthenticated) else "authentication_failed"
        return Response(error_body(code, str(exc.detail)), status=401, headers={"WWW-Authenticate": "Bearer"})
    if isinstance(exc, exceptions.APIException):
        code = next((c for cls, c in _CODES.items() if isinstance(exc, cls)), "error")
        headers = {}
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
        return Response(
            error_body(code, str(exc.detail)), status=exc.status_code, headers=headers
        )
    return None


def json_404(request: Any, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(error_body("not_found", "No such endpoint."), status=status.HTTP_404_NOT_FOUND)


def json_500(request: Any) -> JsonResponse:
    return JsonResponse(error_body("server_error", "Something went wrong on our side."), status=500)
