"""Small files every public page asks for: the brand's colours and the favicon."""

from __future__ import annotations

from pathlib import Path

from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from dsr.core.branding import brand

FAVICON = Path(__file__).resolve().parent.parent / "static" / "dsr" / "favicon.ico"


@require_GET
@cache_control(public=True, max_age=3600)
def brand_css(request: HttpRequest) -> HttpResponse:
    """The brand colour as CSS variables: a file of our own, so no inline style is needed (CSP)."""
    b = brand()
    css = f":root {{ --brand: {b.colour}; --on-brand: {b.on_colour}; --link: {b.link_colour}; }}\n"
    return HttpResponse(css, content_type="text/css; charset=utf-8")


@require_GET
@cache_control(public=True, max_age=86400)
def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico on every site, whatever the page links to."""
    return HttpResponse(FAVICON.read_bytes(), content_type="image/x-icon")
