"""The officer API (``/api/v1/desk/``): the queue and every desk action, for scripts and tools.

Authentication: the desk session (with its verified second factor) or a personal
token, ``Authorization: Token <key>`` (``manage.py issue_api_token USERNAME``).
Auditors may read; officers and administrators may act.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_serializer,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dsr.core import labels
from dsr.core.models import AuditEvent, ConnectorJob, DataSubjectRequest, Message, RecipientNotice
from dsr.core.selectors import request_by_key
from dsr.desk import dispatch
from dsr.desk.auth import DeskRole, PersonalTokenAuthentication
from dsr.desk.queries import QueueFilter, days_left, queue, urgency
from dsr.web.errors import ErrorSerializer, error_body


class DeskAPIView(APIView):
    authentication_classes = [PersonalTokenAuthentication, SessionAuthentication]
    permission_classes = [DeskRole]


class QueueItemSerializer(serializers.ModelSerializer):
    due_on = serializers.DateField(source="effective_due_on")
    days_left = serializers.SerializerMethodField()
    urgency = serializers.SerializerMethodField()
    assignee = serializers.CharField(source="assignee.username", default=None, allow_null=True)
    kind_label = serializers.SerializerMethodField()
    regime_label = serializers.SerializerMethodField()
    status_label = serializers.CharField(source="get_status_display")

    class Meta:
        model = DataSubjectRequest
        fields = ["id", "reference", "kind", "kind_label", "regime", "regime_label", "status", "status_label",
                  "received_at", "due_on", "days_left", "urgency", "assignee"]

    def get_kind_label(self, obj) -> str:
        return labels.kind(obj.kind)

    def get_regime_label(self, obj) -> str:
        return labels.regime(obj.regime)

    def get_days_left(self, obj) -> int | None:
        return days_left(obj)

    def get_urgency(self, obj) -> str:
        return urgency(obj)


@extend_schema_serializer(component_name="DeskJob")  # the systems API has its own "Job"
class JobSerializer(serializers.ModelSerializer):
    system = serializers.CharField(source="system.name")
    result = serializers.JSONField(help_text="counts and the receipt; once the request is purged, counts only")

    class Meta:
        model = ConnectorJob
        fields = ["id", "system", "action", "phase", "status", "attempts", "found", "affected", "error",
                  "result", "export_records", "created_at", "finished_at"]


class NoticeSerializer(serializers.ModelSerializer):
    system = serializers.SlugRelatedField(slug_field="name", read_only=True)

    class Meta:
        model = RecipientNotice
        fields = ["id", "name", "system", "way", "address", "target", "status", "done_at", "note"]


class EventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = ["seq", "created_at", "actor_type", "actor_id", "verb", "details"]


class MessageSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author.username", default=None, allow_null=True)
    text = serializers.CharField(allow_null=True, help_text="empty once the request's record is purged")

    class Meta:
        model = Message
        fields = ["id", "author", "text", "template", "created_at", "sent_at"]


class RequestDetailSerializer(QueueItemSerializer):
    email = serializers.CharField()
    identifiers = serializers.JSONField()
    changes = serializers.JSONField()
    jobs = JobSerializer(many=True)
    events = EventSerializer(many=True, source="audit_events")
    notes = serializers.SerializerMethodField()
    notices = NoticeSerializer(many=True)
    messages = MessageSerializer(many=True)
    lives_in = serializers.SerializerMethodField()
    person = serializers.CharField(source="email_hash", help_text="the person's key: GET /desk/people/{person}/")

    class Meta(QueueItemSerializer.Meta):
        fields = [*QueueItemSerializer.Meta.fields, "email", "identifiers", "requester_type", "country",
                  "subdivision", "lives_in", "language", "person", "changes", "verified_at", "original_due_on",
                  "extended_due_on", "extension_reason", "acknowledge_by", "acknowledged_at", "closed_at",
                  "outcome", "denial_reason", "jobs", "events", "notes", "notices", "messages"]

    original_due_on = serializers.DateField(source="due_on")

    def get_notes(self, obj) -> list[dict]:
        return [{"author": n.author.username if n.author else None, "text": n.text, "created_at": n.created_at}
                for n in obj.notes.select_related("author")]

    def get_lives_in(self, obj) -> str:
        return labels.place(obj.country, obj.subdivision)


ACTION_INPUT = inline_serializer("DeskActionInput", {
    "reason": serializers.CharField(required=False, help_text="deny, extend, keep, withhold, skip"),
    "assignee": serializers.IntegerField(required=False, allow_null=True, help_text="assign: a user id"),
    "text": serializers.CharField(required=False, help_text="note, message"),
    "regime": serializers.CharField(required=False, help_text="regime"),
    "decisions": serializers.ListField(child=serializers.DictField(), required=False,
                                       help_text='decide: [{"index": 1, "accept": true, "reason": ""}]'),
    "system": serializers.UUIDField(required=False, help_text="keep"),
    "ground": serializers.CharField(required=False, help_text="keep: the ground for keeping data despite the erasure (expression, legal_obligation, public_health, archiving, legal_claims)"),
    "job": serializers.UUIDField(required=False, help_text="withhold"),
    "category": serializers.CharField(required=False, help_text="withhold"),
    "record": serializers.IntegerField(required=False, help_text="withhold: one record's index"),
    "note": serializers.CharField(required=False, help_text="complete a job; told: how the recipient was told"),
    "notice": serializers.UUIDField(required=False, help_text="told: one of the request's recipient notices"),
    "affected": serializers.IntegerField(required=False, help_text="complete a job"),
    "template": serializers.IntegerField(required=False, help_text="message: a reply template's id"),
})
ACTION_OUTPUT = inline_serializer("DeskActionResult", {
    "detail": serializers.CharField(), "status": serializers.CharField()})


# Every desk operation may answer these: no or a wrong token (401), a role that may not (403).
REFUSED = {401: ErrorSerializer, 403: ErrorSerializer}


def _action_parameter(names) -> OpenApiParameter:
    return OpenApiParameter("action", str, OpenApiParameter.PATH, enum=sorted(names))


def _payload(request: Request) -> dict:
    return request.data if isinstance(request.data, dict) else {}


def _refused(exc: Exception) -> Response:
    """Unusable input is a 400; an action the request's state does not allow, a 409."""
    if isinstance(exc, dispatch.InvalidInput):
        return Response(error_body("invalid", str(exc)), status=400)
    return Response(error_body("refused", str(exc)), status=409)


class QueuePagination(LimitOffsetPagination):
    """limit and offset as whole numbers or not at all: ``offset=true`` or an empty ``limit=`` is a 400,
    not the first page (DRF's own pagination quietly falls back to its defaults)."""

    default_limit, max_limit = 50, 500

    def _whole_number(self, request: Request, name: str, *, minimum: int, maximum: int | None = None) -> int | None:
        if name not in request.query_params:
            return None
        raw = request.query_params[name]
        value = int(raw) if raw.isascii() and raw.isdigit() else None
        if value is None or value < minimum or (maximum is not None and value > maximum):
            upper = f" to {maximum}" if maximum is not None else " or more"
            raise ValidationError({name: [f"A whole number, {minimum}{upper}."]})
        return value

    def get_limit(self, request: Request) -> int:
        found = self._whole_number(request, self.limit_query_param, minimum=1, maximum=self.max_limit)
        return self.default_limit if found is None else found

    def get_offset(self, request: Request) -> int:
        return self._whole_number(request, self.offset_query_param, minimum=0) or 0

    def get_schema_operation_parameters(self, view) -> list[dict]:
        limit, offset = super().get_schema_operation_parameters(view)
        limit["schema"].update(minimum=1, maximum=self.max_limit)
        offset["schema"].update(minimum=0)
        return [limit, offset]


class QueueView(DeskAPIView):
    pagination_class = QueuePagination

    @extend_schema(
        parameters=[OpenApiParameter(n, str, required=False) for n in
                    ("status", "kind", "regime", "assignee", "overdue", "due_within", "q", "sort", "open")]
        + [OpenApiParameter("state", str, required=False, enum=["open", "closed", "all"],
                            description="open or closed requests only (default: all); a status filter wins")],
        responses={200: QueueItemSerializer(many=True), 400: ErrorSerializer, **REFUSED},
        summary="The queue, filtered and sorted (due date first by default)",
    )
    def get(self, request: Request) -> Response:
        f, errors = QueueFilter.from_params(request.query_params)
        if errors:
            return Response(error_body("invalid", "Some filters are not valid.", {k: [v] for k, v in errors.items()}), 400)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(queue(f, user=request.user), request, view=self)
        return paginator.get_paginated_response(QueueItemSerializer(page, many=True).data)


class RequestView(DeskAPIView):
    @extend_schema(responses={200: RequestDetailSerializer, 404: ErrorSerializer, **REFUSED},
                   summary="One request, in full")
    def get(self, request: Request, request_id: str) -> Response:
        subject_request = request_by_key(request_id, DataSubjectRequest.objects.select_related("assignee"))
        return Response(RequestDetailSerializer(subject_request).data)


class RequestActionView(DeskAPIView):
    @extend_schema(request=ACTION_INPUT, parameters=[_action_parameter(dispatch.REQUEST_ACTIONS)],
                   responses={200: ACTION_OUTPUT, 400: ErrorSerializer, 404: ErrorSerializer,
                              409: ErrorSerializer, **REFUSED},
                   summary="An action on a request: approve, deny, extend, assign, note, regime, release, "
                   "reissue, close, complete, decide, keep, withhold, told, read, message, revoke (the status links)")
    def post(self, request: Request, request_id: str, action: str) -> Response:
        subject_request = request_by_key(request_id)
        try:
            detail = dispatch.run_request_action(action, subject_request, _payload(request), request.user)
        except dispatch.REFUSALS as exc:
            return _refused(exc)
        subject_request.refresh_from_db()
        return Response({"detail": detail, "status": subject_request.status})


class JobActionView(DeskAPIView):
    @extend_schema(request=ACTION_INPUT, parameters=[_action_parameter(dispatch.JOB_ACTIONS)],
                   responses={200: ACTION_OUTPUT, 400: ErrorSerializer, 404: ErrorSerializer,
                              409: ErrorSerializer, **REFUSED},
                   summary="An action on a job: retry, skip, complete")
    def post(self, request: Request, job_id: str, action: str) -> Response:
        job = get_object_or_404(ConnectorJob.objects.select_related("request", "system"), pk=job_id)
        try:
            detail = dispatch.run_job_action(action, job, _payload(request), request.user, files=request.FILES)
        except dispatch.REFUSALS as exc:
            return _refused(exc)
        job.refresh_from_db()
        return Response({"detail": detail, "status": job.status})


class BulkView(DeskAPIView):
    @extend_schema(
        request=inline_serializer("DeskBulkInput", {
            "ids": serializers.ListField(child=serializers.CharField(), min_length=1, max_length=500,
                                         help_text="request ids or references (DSR-XXXX-XXXX)"),
            "assignee": serializers.IntegerField(required=False, allow_null=True)}),
        parameters=[_action_parameter(("approve", "assign"))],
        responses={200: inline_serializer("DeskBulkResult", {"done": serializers.IntegerField(),
                                                              "refused": serializers.IntegerField()}),
                   400: ErrorSerializer, 404: ErrorSerializer, 409: ErrorSerializer, **REFUSED},
        summary="Bulk approve or assign (by ids or references)",
    )
    def post(self, request: Request, action: str) -> Response:
        data = _payload(request)
        ids = data.get("ids")
        if not isinstance(ids, list) or not ids:
            return Response(error_body("invalid", "Give ids: a list of request ids or references.",
                                       {"ids": ["A list of request ids or references."]}), 400)
        try:
            counts = dispatch.run_bulk(action, ids, data, request.user)
        except dispatch.REFUSALS as exc:
            return _refused(exc)
        return Response(counts)


class MessageView(DeskAPIView):
    @extend_schema(
        request=inline_serializer("DeskMessageInput", {
            "text": serializers.CharField(help_text="what the person reads (10,000 characters at most)"),
            "template": serializers.IntegerField(required=False, allow_null=True,
                                                 help_text="the reply template it started from, if any")}),
        responses={201: inline_serializer("DeskMessageSent", {
            "detail": serializers.CharField(), "id": serializers.UUIDField(), "status": serializers.CharField()}),
                   400: ErrorSerializer, 404: ErrorSerializer, 409: ErrorSerializer, **REFUSED},
        summary="Write to the person: emailed in the request's thread, stored encrypted, audited",
    )
    def post(self, request: Request, request_id: str) -> Response:
        subject_request = request_by_key(request_id)
        try:
            message = dispatch.write_message(subject_request, _payload(request), request.user)
        except dispatch.REFUSALS as exc:
            return _refused(exc)
        return Response({"detail": dispatch.MESSAGE_WRITTEN, "id": message.pk, "status": subject_request.status},
                        status=201)
