from __future__ import annotations

from django.http import HttpRequest

from dsr.core.branding import Brand, brand


def organisation(request: HttpRequest) -> dict[str, str | Brand]:
    """The organisation's name and branding, for every page's header and footer."""
    current = brand()
    return {"organisation": current.organisation, "brand": current}
