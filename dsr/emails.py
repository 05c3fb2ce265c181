"""Email to the person: rendered from templates (text and HTML), one line of subject."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string


def absolute(path: str) -> str:
    return f"{settings.DSR_PUBLIC_URL}{path}"


def send(template: str, *, to: str, context: dict[str, Any]) -> None:
    """Render ``emails/<template>.{subject.txt,txt,html}`` and send it.

    The subject is collapsed to one line, so nothing a person typed can add a header.
    """
    context = {"organisation": settings.DSR_ORGANISATION, **context}
    subject = " ".join(render_to_string(f"emails/{template}.subject.txt", context).split())
    text = render_to_string(f"emails/{template}.txt", context)
    html = render_to_string(f"emails/{template}.html", context)
    message = EmailMultiAlternatives(subject[:200], text, settings.DEFAULT_FROM_EMAIL, [to])
    message.attach_alternative(html, "text/html")
    message.send()
