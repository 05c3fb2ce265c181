"""The demo marketing platform's webhook receiver: how a connected system answers a job.

It checks our signature (and refuses a call replayed within the time window),
does the job on its own table and answers at once. Mounted only in DEBUG (``make run``).
"""

from __future__ import annotations

import json

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from connectors.signing import SIGNATURE_HEADER, SignatureError, verify
from dsr.demo_shop.models import MarketingContact


@csrf_exempt
@require_POST
def marketing_webhook(request: HttpRequest) -> JsonResponse:
    try:
        verify(settings.DSR_DEMO_WEBHOOK_SECRET, request.headers.get(SIGNATURE_HEADER, ""), request.body,
               first_use=lambda signature, seconds: cache.add(f"demo-webhook-seen:{signature}", 1, seconds))
    except SignatureError as exc:
        return JsonResponse({"status": "failed", "error": str(exc), "permanent": True}, status=401)
    job = json.loads(request.body)
    email = (job.get("identifiers") or {}).get("email")
    contacts = MarketingContact.objects.filter(email__iexact=email) if email else MarketingContact.objects.none()
    action = job.get("action")
    if action == "check":
        return JsonResponse({"status": "completed"})
    if action == "locate":
        return JsonResponse({"status": "completed", "found": contacts.count(),
                             "by_category": {"contacts": contacts.count()}})
    if action == "export":
        records = [{"category": "contacts", "fields": {"email": c.email, "consented_on": c.consented_on.isoformat()}}
                   for c in contacts]
        return JsonResponse({"status": "completed", "records": records})
    if action == "erase":
        affected, _ = contacts.delete()
        return JsonResponse({"status": "completed", "affected": affected, "by_category": {"contacts": affected}})
    return JsonResponse({"status": "failed", "error": f"unsupported action {action}", "permanent": True})


def privacy_notice(request: HttpRequest) -> HttpResponse:
    """The demo shop's privacy notice, which the demo's branding links to (DSR_PRIVACY_NOTICE_URL)."""
    return render(request, "demo_shop/privacy_notice.html")
