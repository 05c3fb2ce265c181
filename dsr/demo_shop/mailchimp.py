"""The demo newsletter vendor: the part of Mailchimp's Marketing API 3.0 that the product's
``mailchimp`` template calls, served by the demo so a newcomer sees a SaaS template at work.

It answers as Mailchimp documents (https://mailchimp.com/developer/marketing/api/): basic
auth with any user name and the API key, members addressed by subscriber hash (the MD5 of
the lower-cased address), notes and tags paged by ``count``/``offset`` with
``total_items``, the permanent delete, and problem-detail error bodies. Mounted only with
``DSR_DEMO`` (``make run``), under ``/demo/mailchimp/3.0/``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from dsr.demo_shop.models import AudienceMember

LIST_ID = "demo-news"
ERRORS = "https://mailchimp.com/developer/marketing/docs/errors/"


def subscriber_hash(email: str) -> str:
    return hashlib.md5(email.lower().encode(), usedforsecurity=False).hexdigest()


def _problem(status: int, title: str, detail: str) -> JsonResponse:
    body = {"type": ERRORS, "title": title, "status": status, "detail": detail, "instance": ""}
    return JsonResponse(body, status=status, content_type="application/problem+json")


def _not_found() -> JsonResponse:
    return _problem(404, "Resource Not Found", "The requested resource could not be found.")


def _api(*methods: str) -> Callable:
    """Checks the method and the API key (basic auth, any user name) before the view runs."""

    def wrap(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @csrf_exempt
        def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in methods:
                return _problem(405, "Method Not Allowed", "The requested method and resource are "
                                "not compatible. See the Allow header for this resource's available methods.")
            header = request.headers.get("Authorization", "")
            try:
                key = base64.b64decode(header[6:]).decode().partition(":")[2] if header[:6] == "Basic " else ""
            except (binascii.Error, UnicodeDecodeError):
                key = ""
            if not hmac.compare_digest(key.encode(), settings.DSR_DEMO_MAILCHIMP_KEY.encode()):
                return _problem(401, "API Key Invalid", "Your API key may be invalid, or you've "
                                "attempted to access the wrong datacenter.")
            return view(request, *args, **kwargs)

        return checked

    return wrap


def _member_json(member: AudienceMember) -> dict[str, Any]:
    return {
        "id": member.subscriber_hash,
        "email_address": member.email,
        "status": member.status,
        "list_id": member.list_id,
        "merge_fields": {"FNAME": member.first_name, "LNAME": member.last_name},
        "full_name": f"{member.first_name} {member.last_name}".strip(),
        "timestamp_signup": member.signed_up_at.isoformat(),
        "tags_count": len(member.tags),
        "_links": [{"rel": "self", "href": f"/3.0/lists/{member.list_id}/members/{member.subscriber_hash}"}],
    }


def _find(list_id: str, sub: str) -> AudienceMember | None:
    return AudienceMember.objects.filter(list_id=list_id, subscriber_hash=sub).first()


def _page(request: HttpRequest, name: str, items: list[dict[str, Any]]) -> JsonResponse:
    try:
        count, offset = int(request.GET.get("count", 10)), int(request.GET.get("offset", 0))
    except ValueError:
        count, offset = 0, -1
    if not 1 <= count <= 1000 or offset < 0:
        return _problem(400, "Invalid Resource", "count must be 1 to 1000 and offset not negative.")
    return JsonResponse({name: items[offset: offset + count], "total_items": len(items), "_links": []})


@_api("GET")
def ping(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"health_status": "Everything's Chimpy!"})


@_api("GET", "PATCH")
def member(request: HttpRequest, list_id: str, sub: str) -> HttpResponse:
    found = _find(list_id, sub)
    if found is None:
        return _not_found()
    if request.method == "PATCH":
        try:
            change = json.loads(request.body or b"{}")
        except ValueError:
            return _problem(400, "JSON Parse Exception", "We encountered an unspecified JSON parsing error.")
        fields = change.get("merge_fields") or {}
        found.first_name = fields.get("FNAME", found.first_name)
        found.last_name = fields.get("LNAME", found.last_name)
        if change.get("email_address"):
            found.email = change["email_address"]
            found.subscriber_hash = subscriber_hash(found.email)
        found.save()
    return JsonResponse(_member_json(found))


@_api("GET")
def notes(request: HttpRequest, list_id: str, sub: str) -> HttpResponse:
    found = _find(list_id, sub)
    if found is None:
        return _not_found()
    items = [{"id": i + 1, "note": note["note"], "created_at": note["created_at"], "email_id": sub,
              "list_id": list_id} for i, note in enumerate(found.notes)]
    return _page(request, "notes", items)


@_api("GET")
def tags(request: HttpRequest, list_id: str, sub: str) -> HttpResponse:
    found = _find(list_id, sub)
    if found is None:
        return _not_found()
    items = [{"id": i + 1, "name": name, "date_added": found.signed_up_at.isoformat()}
             for i, name in enumerate(found.tags)]
    return _page(request, "tags", items)


@_api("POST")
def delete_permanent(request: HttpRequest, list_id: str, sub: str) -> HttpResponse:
    found = _find(list_id, sub)
    if found is None:
        return _not_found()
    found.delete()
    return HttpResponse(status=204)


urlpatterns = [
    path("ping", ping),
    path("lists/<str:list_id>/members/<str:sub>", member),
    path("lists/<str:list_id>/members/<str:sub>/notes", notes),
    path("lists/<str:list_id>/members/<str:sub>/tags", tags),
    path("lists/<str:list_id>/members/<str:sub>/actions/delete-permanent", delete_permanent),
]
