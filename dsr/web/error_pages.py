"""Error pages: JSON under /api/, HTML elsewhere."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.shortcuts import render
from django.template import loader

from dsr.core.branding import brand
from dsr.web.errors import json_404, json_500


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith("/api/"):
        return json_404(request)
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    """Rendered without the context processors (as Django's own): they may read the session from
    the very database that has failed. The page still carries the branding, from settings alone."""
    if request.path.startswith("/api/"):
        return json_500(request)
    current = brand()
    html = loader.get_template("500.html").render({"brand": current, "organisation": current.organisation})
    return HttpResponseServerError(html)
