"""Reads shared by the public pages, the API, the desk and the results."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable

from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .models import DataSubjectRequest, ResultBundle, Status

_NEXT_STEPS = {
    Status.RECEIVED: _("We have your request and are sending you an email to confirm it is you."),
    Status.AWAITING_VERIFICATION: _("Enter the 6-digit code we emailed you, or click the link in "
    "that email, to confirm it is you. We start work once you have."),
    Status.VERIFIED: _("Thank you for confirming. Our privacy team will review your request."),
    Status.APPROVED: _("Your request has been approved and work is about to start."),
    Status.IN_PROGRESS: _("We are working through the systems that hold your data."),
    Status.REVIEW: _("The work is done and our privacy team is checking the result."),
    Status.COMPLETED: _("Your request is complete. We have emailed you the outcome."),
    Status.DENIED: _("We could not grant your request; we have emailed you the reason and "
    "how to complain about our decision (see below)."),
    Status.CANCELLED: _("This request was closed."),
    Status.EXPIRED: _("This request was closed because it was not confirmed in time. "
    "You are welcome to file a new one."),
}


def next_step(request: DataSubjectRequest) -> str:
    other = request.duplicate_of
    if request.status == Status.CANCELLED and request.outcome == "duplicate" and other:
        return gettext(
            "You already have the same request under way (%(reference)s); "
            "we have linked this one to it so the work is not done twice."
        ) % {"reference": other.reference}
    if request.status == Status.CANCELLED and request.outcome == "merged" and other:
        return gettext(
            "We have added the corrections you asked for here to your other request (%(reference)s), "
            "so that they are decided together."
        ) % {"reference": other.reference}
    if request.status == Status.VERIFIED and other and other.status in UNDER_WAY[1:]:
        return gettext(
            "Your earlier request of the same kind (%(reference)s) is still under way. We will "
            "deal with this one once it is done, so that neither undoes the other."
        ) % {"reference": other.reference}
    return str(_NEXT_STEPS[Status(request.status)])


# The shape of every reference (models.new_reference); anything else is looked up nowhere.
_REFERENCE = re.compile(r"DSR-[0-9A-Z]{4}-[0-9A-Z]{4}")


def as_uuid(value: object) -> str | None:
    """The canonical text of a UUID, or None if ``value`` is not one."""
    try:
        return str(uuid.UUID(str(value).strip()))
    except ValueError:
        return None


def is_request_key(key: str) -> bool:
    """A request's id (a UUID) or its reference (DSR-XXXX-XXXX), in any letter case."""
    return as_uuid(key) is not None or _REFERENCE.fullmatch(key.strip().upper()) is not None


def requests_by_keys(keys: Iterable[str], queryset: QuerySet | None = None) -> QuerySet:
    """The requests named by id or by reference; the caller has checked each with is_request_key."""
    keys = [str(k).strip() for k in keys]
    ids = [u for k in keys if (u := as_uuid(k))]
    references = [k.upper() for k in keys if _REFERENCE.fullmatch(k.upper())]
    rows = DataSubjectRequest.objects.all() if queryset is None else queryset
    return rows.filter(Q(pk__in=ids) | Q(reference__in=references))


def request_by_key(key: str, queryset: QuerySet | None = None) -> DataSubjectRequest:
    """One request by its id or its reference (the desk takes either); 404 if none."""
    request = requests_by_keys([key], queryset).first() if is_request_key(key) else None
    if request is None:
        raise Http404("No request has this id or reference.")
    return request


def request_by_reference(reference: str) -> DataSubjectRequest:
    reference = reference.strip().upper()
    request = None
    if _REFERENCE.fullmatch(reference):
        request = (
            DataSubjectRequest.objects.select_related("duplicate_of").filter(reference=reference).first()
        )
    if request is None:
        raise Http404("No request has this reference.")
    return request


#: A request of these statuses is being worked: another of the same kind must not be.
UNDER_WAY = (Status.VERIFIED, Status.APPROVED, Status.IN_PROGRESS, Status.REVIEW)


def same_under_way(request: DataSubjectRequest, statuses=UNDER_WAY) -> DataSubjectRequest | None:
    """The person's earliest other open request of the same kind in ``statuses``, if any."""
    return (
        DataSubjectRequest.objects.filter(email_hash=request.email_hash, kind=request.kind, status__in=statuses)
        .exclude(pk=request.pk).exclude(email_hash="").order_by("received_at").first()
    )


def current_bundle(request: DataSubjectRequest) -> ResultBundle | None:
    """The request's released bundle that has not been deleted, if any."""
    return request.bundles.filter(deleted_at__isnull=True, released_at__isnull=False).first()
