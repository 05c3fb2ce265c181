"""Django admin: read-only views of requests and the audit trail (the desk comes later)."""

from __future__ import annotations

from django.contrib import admin

from .models import AuditEvent, DataSubjectRequest


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
    readonly_fields = ("subject_email",)

    @admin.display(description="Subject's email")
    def subject_email(self, obj: DataSubjectRequest) -> str:
        return obj.email


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("seq", "created_at", "actor_type", "actor_id", "verb", "request")
    list_filter = ("actor_type", "verb")
    ordering = ("-seq",)
