"""Django admin: read-only views of requests and the audit trail (the desk comes later)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django_otp.admin import OTPAdminSite

from connectors import registry
from connectors.base import ConnectorError
from dsr.core import queue
from dsr.core.audit import Actor
from dsr.core.models import (
    AuditEvent,
    ConnectorJob,
    DataSubjectRequest,
    JobStatus,
    SystemConnection,
    TOTPDevice,
)
from dsr.core.queue import Task
from dsr.core.roles import Role, role_of
from dsr.desk.login import AdminLoginForm
from dsr.desk.templatetags.desk_labels import rows
from dsr.engine import fanout


class DeskAdminSite(OTPAdminSite):
    """The admin is for administrators, and like the desk it needs the second factor."""

    site_header = "Privacy desk administration"
    login_form = AdminLoginForm

    def has_permission(self, request) -> bool:
        return super().has_permission(request) and role_of(request.user) == Role.ADMINISTRATOR


admin.site.__class__ = DeskAdminSite


class ReadOnlyAdmin(admin.ModelAdmin):
    """Changes go through the lifecycle and the desk, never a raw admin form."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(DataSubjectRequest)
class DataSubjectRequestAdmin(ReadOnlyAdmin):
    list_display = ("reference", "kind", "regime", "status", "received_at", "due_on", "assignee")
    list_filter = ("status", "kind", "regime")
    search_fields = ("reference",)
    ordering = ("due_on",)
    exclude = ("identifiers", "agent", "changes", "details", "email_hash")
    readonly_fields = ("subject_email", "corrections", "evidence", "results_preview")
    actions = ["release_results", "close_reviewed"]

    @admin.display(description="Subject's email")
    def subject_email(self, obj: DataSubjectRequest) -> str:
        return obj.email

    @admin.display(description="Requested corrections")
    def corrections(self, obj: DataSubjectRequest) -> str:
        items = obj.changes or []
        return "; ".join(
            f"{i + 1}. {c['field']} → {c['value']} ({c.get('decision', 'undecided')})" for i, c in enumerate(items)
        ) or "-"

    @admin.display(description="Results preview (for review)")
    def results_preview(self, obj: DataSubjectRequest) -> str:
        from dsr.results import access

        if obj.kind not in access.EXPORT_KINDS or obj.status != "review":
            return "-"
        rows = []
        for row in access.preview(obj, per_system=3):
            counts = ", ".join(f"{k}: {v}" for k, v in sorted(row["counts"].items())) or "nothing found"
            samples = format_html_join("", "{}", ((
                format_html("<table><caption>Record #{} · {}</caption>{}</table>", r["index"], r["category"],
                            _table_rows(r["fields"])),) for r in row["records"]))
            rows.append(format_html("<p><strong>{}</strong> ({}): {}</p>{}",
                                    row["system"], row["status"], counts, samples))
        return format_html_join("", "{}", ((r,) for r in rows)) or "-"

    @admin.display(description="Evidence")
    def evidence(self, obj: DataSubjectRequest) -> str:
        if obj.kind == "erasure" and obj.status == "completed":
            url = reverse("desk:certificate", args=[obj.pk])
            return format_html('<a href="{}" target="_blank">Erasure certificate (printable)</a>', url)
        bundle = obj.bundles.filter(deleted_at__isnull=True).first()
        if bundle:
            return f"Bundle released {bundle.released_at:%Y-%m-%d}, sha256 {bundle.sha256[:16]}…, {bundle.downloads} download(s)"
        return "-"

    @admin.action(description="Release results (access/portability in review)")
    def release_results(self, request, queryset):
        ready = queryset.filter(status="review", kind__in=["access", "portability"])
        for item in ready:
            queue.enqueue(Task.RELEASE_RESULTS, str(item.pk), request.user.pk)
        self.message_user(request, f"{ready.count()} bundle(s) being built; the person is emailed when ready.")

    @admin.action(description="Close reviewed requests (rectification)")
    def close_reviewed(self, request, queryset):
        from dsr.results import closing

        done = 0
        for item in queryset.filter(status="review", kind="rectification"):
            done += closing.complete(item, actor=Actor.officer(request.user))
        self.message_user(request, f"{done} request(s) closed; the people are emailed.")


@admin.register(TOTPDevice)
class TOTPDeviceAdmin(ReadOnlyAdmin):
    """Authenticators, read-only: whose, and whether confirmed. Never the secret, a QR code or an
    otpauth:// URI (``desk_user`` prints that once, when it creates the device)."""

    fields = list_display = ("name", "user", "confirmed", "created_at", "last_used_at")
    list_filter = ("confirmed",)
    search_fields = ("user__username", "name")


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("seq", "created_at", "actor_type", "actor_id", "verb", "request")
    list_filter = ("actor_type", "verb")
    ordering = ("-seq",)


class SystemConnectionForm(forms.ModelForm):
    """Secrets are write-only here: the form shows which are set, never their values."""

    new_secrets = forms.JSONField(
        required=False,
        label="Secrets",
        help_text='A JSON object, e.g. {"dsn": "postgresql://…"}. Leave empty to keep the current '
        "secrets. Stored encrypted.",
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    class Meta:
        model = SystemConnection
        exclude = ("secrets", "token_hash")

    def clean_new_secrets(self):
        value = self.cleaned_data.get("new_secrets")
        if value in (None, ""):
            return None
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise forms.ValidationError("Give a JSON object of names to string values.")
        return value

    def clean(self):
        data = super().clean()
        try:
            cls = registry.load(data.get("connector", ""))
            secrets = self.cleaned_data.get("new_secrets") or (self.instance.secrets or {})
            cls(name=data.get("name") or "new", config=data.get("config") or {}, secrets=secrets)
        except ConnectorError as exc:
            raise forms.ValidationError(exc.message) from exc
        return data

    def save(self, commit=True):
        if self.cleaned_data.get("new_secrets") is not None:
            self.instance.secrets = self.cleaned_data["new_secrets"]
        return super().save(commit=commit)


@admin.register(SystemConnection)
class SystemConnectionAdmin(admin.ModelAdmin):
    form = SystemConnectionForm
    list_display = ("name", "connector", "enabled", "identity_source", "secrets_set")
    list_filter = ("connector", "enabled")

    @admin.display(description="Secrets set")
    def secrets_set(self, obj: SystemConnection) -> str:
        return ", ".join(sorted(obj.secrets or {})) or "-"


def _table_rows(mapping: dict) -> str:
    """A mapping as rows of an HTML table, in words (never Python or JSON notation)."""
    return format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows(mapping))


class ConnectorJobInline(admin.TabularInline):
    model = ConnectorJob
    fields = ("system", "action", "status", "attempts", "found", "affected", "error", "outcome", "finished_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    @admin.display(description="Receipt or note")
    def outcome(self, obj: ConnectorJob) -> str:
        result = dict(obj.result or {})
        receipt = result.pop("receipt", None) or {}
        result.pop("state", None)  # a vendor's polling state: nothing for a person to read
        shown = {**{k: v for k, v in receipt.items() if k != "action"}, **result}
        return format_html("<table>{}</table>", _table_rows(shown)) if shown else "-"

    def has_add_permission(self, request, obj=None) -> bool:
        return False


DataSubjectRequestAdmin.inlines = [ConnectorJobInline]


@admin.register(ConnectorJob)
class ConnectorJobAdmin(ReadOnlyAdmin):
    list_display = ("request", "system", "action", "status", "attempts", "affected", "error", "updated_at")
    list_filter = ("status", "action", "system")
    exclude = ("learned", "callback_token_hash")
    actions = ["retry_failed"]

    @admin.action(description="Retry the selected failed jobs")
    def retry_failed(self, request, queryset):
        retried = sum(
            fanout.retry_job(job, actor=Actor.officer(request.user))
            for job in queryset.filter(status=JobStatus.FAILED).select_related("request", "system")
        )
        self.message_user(request, f"{retried} job(s) queued again.")
