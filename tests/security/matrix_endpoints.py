"""How the authorization matrix calls each URL of the product, and tells whether it did its work."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model

from dsr.core.crypto import identifier_hash
from dsr.core.models import (
    DataSubjectRequest,
    Message,
    ResultBundle,
    Status,
    Verification,
)
from tests.security.matrix_world import (
    ALICE,
    Call,
    Endpoint,
    World,
    body_text,
    code_held,
    link_held,
    reference,
    reload,
    status_held,
    status_of,
)

# --- the endpoints ------------------------------------------------------------------------



MEMBER = "lists/<str:list_id>/members/<str:sub>"
ANA_HASH = hashlib.md5(b"ana.demo@example.org", usedforsecurity=False).hexdigest()

def get(path: str | Callable[[World, str], str], **kw: Any) -> Endpoint:
    return Endpoint(lambda w, a: Call("GET", path(w, a) if callable(path) else path), **kw)


def post(path: Callable[[World, str], str] | str, data: Callable[[World, str], dict] | None = None,
         *, json_body: bool = False, **kw: Any) -> Endpoint:
    def call(w: World, a: str) -> Call:
        return Call("POST", path(w, a) if callable(path) else path, data(w, a) if data else {}, json_body)

    return Endpoint(call, **kw)


def api_post(path, data=None, **kw) -> Endpoint:
    return post(path, data, json_body=True, **kw)


def page(name: str, suffix: str = "") -> Callable[[World, str], str]:
    return lambda w, a: f"/requests/{reference(w, name, a)}/{suffix}"


def api(name: str, suffix: str = "") -> Callable[[World, str], str]:
    return lambda w, a: f"/api/v1/requests/{reference(w, name, a)}/{suffix}"


def verified(w: World) -> bool:
    return any(status_of(r) == Status.VERIFIED for r in (w.new_a, w.new_b))


def downloaded(w: World) -> bool:
    return ResultBundle.objects.filter(downloads__gt=0).exists()


def approved(w: World) -> bool:
    return status_of(w.verified_a) != Status.VERIFIED


def links_revoked(w: World) -> bool:
    return reload(w.verified_a).status_revocations > 0


def job_skipped(w: World) -> bool:
    return reload(w.job_a).status == "skipped"


def shows_reference(name: str) -> Callable[[World, Any], bool]:
    return lambda w, response: getattr(w, f"{name}_a").reference in body_text(response)


def is_zip_of(w: World, response: Any) -> bool:
    archive = zipfile.ZipFile(io.BytesIO(response.body))
    return json.loads(archive.read("manifest.json"))["request"]["reference"] == w.done_a.reference


def lists_job_a(w: World, response: Any) -> bool:
    return str(w.job_a.pk) in body_text(response)


def new_filing(w: World, a: str) -> dict:
    return {"kind": "erasure", "email": "carol.matrix@example.com", "country": "DE"}


def filed(w: World) -> bool:
    return DataSubjectRequest.objects.filter(email_hash=identifier_hash("email", "carol.matrix@example.com")).exists()


def with_objects(path: str, *names: str) -> Callable[[World, str], str]:
    """``path``, once the world holds ``names`` (so that a listing has something to show or hide)."""

    def build(w: World, a: str) -> str:
        for name in names:
            getattr(w, name)
        return path

    return build


def job_path(suffix: str) -> Callable[[World, str], str]:
    # system B has a job of its own too, so that nothing is trivially empty for it
    return lambda w, a: with_objects(f"/api/v1/systems/jobs/{w.job_a.pk}/{suffix}", "job_b")(w, a)


def admin_object(model: str, attr: str, suffix: str) -> Callable[[World, str], str]:
    return lambda w, a: f"/admin/{model}/{getattr(w, attr).pk}/{suffix}"


def admin_model(model: str, attr: str) -> dict[str, Endpoint]:
    """The six URLs Django's admin gives each registered model."""
    return {
        f"admin/{model}/": get(f"/admin/{model}/"),
        f"admin/{model}/add/": get(f"/admin/{model}/add/"),
        f"admin/{model}/<path:object_id>/history/": get(admin_object(model, attr, "history/")),
        f"admin/{model}/<path:object_id>/delete/": get(admin_object(model, attr, "delete/")),
        f"admin/{model}/<path:object_id>/change/": get(admin_object(model, attr, "change/")),
        f"admin/{model}/<path:object_id>/": get(admin_object(model, attr, "")),
    }


def content_type_of_user(w: World, a: str) -> str:
    from django.contrib.contenttypes.models import ContentType

    return f"/admin/r/{ContentType.objects.get_for_model(get_user_model()).pk}/{w.clerk.pk}/"


ENDPOINTS: dict[str, Endpoint] = {
    # public pages
    "": get("/"),
    # Django's set_language: sets the language cookie and sends the caller back; it touches no request.
    "i18n/setlang/": post("/i18n/setlang/", lambda w, a: {"language": "de", "next": "/"}),
    "requests/<str:reference>/": get(page("done"), target="done", shows=shows_reference("done")),
    "requests/<str:reference>/open/<str:token>/": get(
        lambda w, a: page("done", f"open/{status_held(w, a)}/")(w, a), target="done"),
    "requests/<str:reference>/verify/": post(
        page("new", "verify/"), lambda w, a: {"code": code_held(w, a)}, target="new", effect=verified),
    "requests/<str:reference>/verify/<str:token>/": post(
        lambda w, a: page("new", f"verify/{link_held(w, a)}/")(w, a), target="new", effect=verified),
    "requests/<str:reference>/resend/": post(page("new", "resend/"), target="new"),
    "requests/<str:reference>/download/code/": post(
        page("done", "download/code/"), target="done",
        effect=lambda w: Verification.objects.filter(purpose="download", superseded=True).exists()),
    "requests/<str:reference>/download/": post(
        page("done", "download/"), lambda w, a: {"code": code_held(w, a, "download")}, target="done",
        effect=downloaded, shows=is_zip_of),
    "requests/<str:reference>/cancel/": post(
        page("verified", "cancel/"), target="verified",
        effect=lambda w: status_of(w.verified_a) == Status.CANCELLED),
    "brand.css": get("/brand.css"),
    "favicon.ico": get("/favicon.ico"),
    "demo/privacy-notice/": get("/demo/privacy-notice/"),
    # public API
    "api/v1/requests/": api_post("/api/v1/requests/", new_filing, effect=filed),
    "api/v1/requests/<str:reference>/": get(api("done"), target="done", shows=shows_reference("done")),
    "api/v1/requests/<str:reference>/verify/": api_post(
        api("new", "verify/"), lambda w, a: {"code": code_held(w, a)}, target="new", effect=verified),
    "api/v1/requests/<str:reference>/resend/": api_post(api("new", "resend/"), target="new"),
    "api/v1/requests/<str:reference>/download/code/": api_post(
        api("done", "download/code/"), target="done"),
    "api/v1/requests/<str:reference>/download/": api_post(
        api("done", "download/"), lambda w, a: {"code": code_held(w, a, "download")}, target="done",
        effect=downloaded, shows=is_zip_of),
    # systems API
    "api/v1/systems/jobs/": get(with_objects("/api/v1/systems/jobs/", "job_a", "job_b"), shows=lists_job_a),
    "api/v1/systems/jobs/<uuid:job_id>/claim/": api_post(
        job_path("claim/"), effect=lambda w: reload(w.job_a).claimed_at is not None, shows=lists_job_a),
    "api/v1/systems/jobs/<uuid:job_id>/result/": api_post(
        job_path("result/"), lambda w, a: {"status": "completed", "records": []},
        effect=lambda w: reload(w.job_a).status == "succeeded"),
    "api/v1/systems/suppression/check": api_post(
        "/api/v1/systems/suppression/check",
        lambda w, a: {"kind": "email", "sha256": "0" * 64}),
    # officer API
    "api/v1/desk/requests/": get(with_objects("/api/v1/desk/requests/", "done_a"), shows=shows_reference("done")),
    "api/v1/desk/requests/<request:request_id>/": get(
        lambda w, a: f"/api/v1/desk/requests/{w.done_a.pk}/", shows=shows_reference("done")),
    "api/v1/desk/requests/<request:request_id>/<slug:action>/": api_post(
        lambda w, a: f"/api/v1/desk/requests/{w.verified_a.pk}/approve/", effect=approved),
    "api/v1/desk/requests/<request:request_id>/revoke/": api_post(
        lambda w, a: f"/api/v1/desk/requests/{w.verified_a.pk}/revoke/", effect=links_revoked),
    "api/v1/desk/people/": get(with_objects(f"/api/v1/desk/people/?email={ALICE['email']}", "done_a"),
                               shows=shows_reference("done")),
    "api/v1/desk/requests/<request:request_id>/audit/": get(
        lambda w, a: f"/api/v1/desk/requests/{w.done_a.pk}/audit/",
        shows=lambda w, r: "released the bundle" in body_text(r)),
    "api/v1/desk/requests/<request:request_id>/emails/": get(
        lambda w, a: with_objects(f"/api/v1/desk/requests/{w.done_a.reference}/emails/", "email_a")(w, a),
        shows=shows_reference("done")),
    "api/v1/desk/requests/<request:request_id>/message/": api_post(
        lambda w, a: f"/api/v1/desk/requests/{w.verified_a.pk}/message/",
        lambda w, a: {"text": "Please send a copy of your ID."},
        effect=lambda w: Message.objects.filter(request=w.verified_a).exists()),
    "api/v1/desk/jobs/<uuid:job_id>/<slug:action>/": api_post(
        lambda w, a: f"/api/v1/desk/jobs/{w.job_a.pk}/skip/", lambda w, a: {"reason": "not ours"},
        effect=job_skipped),
    "api/v1/desk/bulk/<slug:action>/": api_post(
        "/api/v1/desk/bulk/approve/", lambda w, a: {"ids": [str(w.verified_a.pk)]}, effect=approved),
    # API documents
    "api/schema/": get("/api/schema/"),
    "api/docs/": get("/api/docs/"),
    # desk pages
    "desk/": get(with_objects("/desk/", "done_a", "verified_a"), shows=shows_reference("verified")),  # open ones
    "desk/login/": get("/desk/login/"),
    "desk/logout/": post("/desk/logout/"),
    "desk/bulk/": post("/desk/bulk/", lambda w, a: {"action": "approve", "selected": [str(w.verified_a.pk)]},
                       effect=approved),
    "desk/reports/": get("/desk/reports/"),
    "desk/audit/": get(with_objects("/desk/audit/", "done_a"), shows=lambda w, r: "The chain is intact" in body_text(r)),
    "desk/people/<str:key>/": get(lambda w, a: f"/desk/people/{w.done_a.email_hash}/", shows=shows_reference("done")),
    "desk/reports/ccpa/": get("/desk/reports/ccpa/"),
    "desk/reports/ccpa.csv": get("/desk/reports/ccpa.csv"),
    "desk/reports/requests.csv": get(with_objects("/desk/reports/requests.csv", "done_a"),
                                     shows=shows_reference("done")),
    "desk/requests/<request:request_id>/": get(lambda w, a: f"/desk/requests/{w.done_a.pk}/",
                                            shows=shows_reference("done")),
    "desk/requests/<request:request_id>/progress/": get(lambda w, a: f"/desk/requests/{w.job_a.request_id}/progress/",
                                                     shows=lambda w, r: "system-a" in body_text(r)),
    "desk/requests/<request:request_id>/certificate/": get(
        lambda w, a: f"/desk/requests/{w.verified_a.pk}/certificate/", shows=shows_reference("verified")),
    "desk/requests/<request:request_id>/<slug:action>/": post(
        lambda w, a: f"/desk/requests/{w.verified_a.pk}/approve/", effect=approved),
    "desk/requests/<request:request_id>/revoke/": post(
        lambda w, a: f"/desk/requests/{w.verified_a.pk}/revoke/", effect=links_revoked),
    "desk/jobs/<uuid:job_id>/<slug:action>/": post(
        lambda w, a: f"/desk/jobs/{w.job_a.pk}/skip/", lambda w, a: {"reason": "not ours"}, effect=job_skipped),
    # the admin
    "admin/": get("/admin/"),
    "admin/login/": get("/admin/login/"),
    "admin/logout/": post("/admin/logout/"),
    "admin/password_change/": get("/admin/password_change/"),
    "admin/password_change/done/": get("/admin/password_change/done/"),
    "admin/autocomplete/": get("/admin/autocomplete/"),
    "admin/jsi18n/": get("/admin/jsi18n/"),
    "admin/r/<path:content_type_id>/<path:object_id>/": get(content_type_of_user),
    **admin_model("auth/group", "group"),
    "admin/auth/user/<id>/password/": get(lambda w, a: f"/admin/auth/user/{w.clerk.pk}/password/"),
    **admin_model("auth/user", "clerk"),
    **admin_model("dsr/totpdevice", "device"),
    **admin_model("dsr/datasubjectrequest", "done_a"),
    **admin_model("dsr/auditevent", "event"),
    **admin_model("dsr/systemconnection", "system_a"),
    **admin_model("dsr/connectorjob", "job_a"),
    "admin/^(?P<app_label>auth|dsr)/$": get("/admin/dsr/"),
    "admin/(?P<url>.*)$": get("/admin/no-such-page/"),
    # the demo marketing platform's receiver: nobody gets in without our signature
    "demo/marketing-webhook/": api_post("/demo/marketing-webhook/", lambda w, a: {"action": "check"}),
    # the demo newsletter vendor (Mailchimp's API): nobody gets in without its API key
    **{f"demo/mailchimp/3.0/{route}": call for route, call in [
        ("ping", get("/demo/mailchimp/3.0/ping")),
        (MEMBER, get(f"/demo/mailchimp/3.0/lists/demo-news/members/{ANA_HASH}")),
        (f"{MEMBER}/notes", get(f"/demo/mailchimp/3.0/lists/demo-news/members/{ANA_HASH}/notes")),
        (f"{MEMBER}/tags", get(f"/demo/mailchimp/3.0/lists/demo-news/members/{ANA_HASH}/tags")),
        (f"{MEMBER}/actions/delete-permanent",
         api_post(f"/demo/mailchimp/3.0/lists/demo-news/members/{ANA_HASH}/actions/delete-permanent")),
    ]},
}

