"""Email to the person: rendered from templates (text and HTML), one line of subject."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from . import law


def absolute(path: str) -> str:
    return f"{settings.DSR_PUBLIC_URL}{path}"


def render(template: str, context: dict[str, Any]) -> tuple[str, str, str]:
    """Render ``emails/<template>.{subject.txt,txt,html}``: (subject, text, html).

    The subject is collapsed to one line, so nothing a person typed can add a header. An
    email about a request cites that request's law (``law``), never another's.
    """
    context = {"organisation": settings.DSR_ORGANISATION, **context}
    if "request" in context and "law" not in context:
        context["law"] = law.for_request(context["request"])
    subject = " ".join(render_to_string(f"emails/{template}.subject.txt", context).split())
    text = render_to_string(f"emails/{template}.txt", context)
    html = render_to_string(f"emails/{template}.html", context)
    return subject[:200], text, html


def deliver(to: str, subject: str, text: str, html: str) -> None:
    message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, [to])
    message.attach_alternative(html, "text/html")
    message.send()


def send(template: str, *, to: str, context: dict[str, Any]) -> None:
    deliver(to, *render(template, context))
