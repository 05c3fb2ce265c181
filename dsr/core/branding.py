"""The organisation's branding, as every public page, email and access bundle shows it.

Plain settings in, plain data out. The brand colour is checked once, at start-up
(``dsr.core.env.brand_colour``): text on it is whichever of dark ink or white reads better,
and a colour on which neither reaches WCAG AA (4.5:1) is refused, so no page can come out
unreadable. Links on white use the brand colour only where it is itself readable on white.
"""

from __future__ import annotations

from dataclasses import dataclass

INK = "#1b1f24"
WHITE = "#ffffff"
LINK_FALLBACK = "#0b5cad"
AA_TEXT = 4.5


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def luminance(colour: str) -> float:
    """WCAG 2 relative luminance of ``#rrggbb``."""
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two ``#rrggbb`` colours, from 1 to 21."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def readable_text_on(background: str) -> str:
    """Dark ink or white, whichever reads better on ``background``; ValueError if neither reaches AA."""
    best = max((INK, WHITE), key=lambda text: contrast(text, background))
    ratio = contrast(best, background)
    if ratio < AA_TEXT:
        raise ValueError(
            f"neither dark nor white text is readable on {background} (best {ratio:.2f}:1, "
            f"WCAG AA needs {AA_TEXT}:1); choose a darker or a lighter colour"
        )
    return best


@dataclass(frozen=True)
class Brand:
    organisation: str
    logo_url: str
    colour: str
    on_colour: str  # text on the brand colour
    link_colour: str  # links on white
    privacy_notice_url: str
    contact_email: str
    dpo_contact: str
    controller_address: str


def absolute_url(url: str) -> str:
    """A link of ours read away from the site (an email, the downloaded bundle) needs the whole address."""
    from django.conf import settings

    return f"{settings.DSR_PUBLIC_URL}{url}" if url.startswith("/") else url


def brand() -> Brand:
    from django.conf import settings

    colour = settings.DSR_BRAND_COLOUR
    return Brand(
        organisation=settings.DSR_ORGANISATION,
        logo_url=settings.DSR_LOGO_URL,
        colour=colour,
        on_colour=readable_text_on(colour),
        link_colour=colour if contrast(colour, WHITE) >= AA_TEXT else LINK_FALLBACK,
        privacy_notice_url=settings.DSR_PRIVACY_NOTICE_URL,
        contact_email=settings.DSR_CONTACT_EMAIL,
        dpo_contact=settings.DSR_DPO_CONTACT,
        controller_address=settings.DSR_CONTROLLER_ADDRESS,
    )
