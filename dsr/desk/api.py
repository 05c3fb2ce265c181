"""The officer API (``/api/v1/desk/``): the queue and every desk action, for scripts and tools.

Authentication: the desk session (with its verified second factor) or a personal
token, ``Authorization: Token <key>`` (``manage.py issue_api_token USERNAME``).
Auditors may read; officers and administrators may act.
"""

from __future__ import annotations

from typing import Any

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

from dsr.api.serializers import Pattern, Text, TrueOrFalse, Uuid, WholeNumber
from dsr.core import labels
from dsr.core.models import (
    AuditEvent,
    ConnectorJob,
    DataSubjectRequest,
    ErasureGround,
    Kind,
    Message,
    RecipientNotice,
    Regime,
    Status,
)
from dsr.core.selectors import request_by_key
from dsr.desk import dispatch
from dsr.desk.auth import DeskRole, PersonalTokenAuthentication
from dsr.desk.queries import SORTS, QueueFilter, days_left, queue, urgency
from dsr.results import messaging
from dsr.web.converters import RequestKey
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


REQUEST_KEY = rf"^\s*(?:{RequestKey.regex})\s*$"
# Ids as the desk's forms take them: ASCII digits, at most nine (dispatch._WHOLE).
ID_MAX = 999_999_999


class DecisionSerializer(serializers.Serializer):
    index = WholeNumber(min_value=1, max_value=ID_MAX, help_text="the correction's number, from 1")
    accept = TrueOrFalse()
    reason = Text(required=False, allow_blank=True, help_text="told to the person when refused")


class ActionInputSerializer(serializers.Serializer):
    """Every desk action's input, typed as the schema says; each action takes the fields it needs
    (an empty or missing one it needs is a 409 with the reason, like a request in the wrong state)."""

    reason = Text(required=False, allow_blank=True, help_text="deny, extend, keep, withhold, skip")
    assignee = WholeNumber(required=False, allow_null=True, min_value=0, max_value=ID_MAX,
                           help_text="assign: a user id; null unassigns")
    text = Text(required=False, allow_blank=True, help_text="note")
    regime = serializers.ChoiceField(choices=Regime.choices, required=False, help_text="regime")
    decisions = serializers.ListField(child=DecisionSerializer(), required=False, max_length=100,
                                      help_text='decide: [{"index": 1, "accept": true, "reason": ""}]')
    system = Uuid(required=False, help_text="keep")
    ground = serializers.ChoiceField(choices=ErasureGround.choices, required=False,
                                     help_text="keep: the ground for keeping data despite the erasure")
    job = Uuid(required=False, help_text="withhold")
    category = Text(required=False, allow_blank=True, help_text="withhold")
    record = WholeNumber(required=False, min_value=0, max_value=ID_MAX, help_text="withhold: one record's index")
    note = Text(required=False, allow_blank=True, help_text="complete a job; told: how the recipient was told")
    notice = Uuid(required=False, help_text="told: one of the request's recipient notices")
    affected = WholeNumber(required=False, min_value=0, max_value=ID_MAX, help_text="complete a job")
    template = WholeNumber(required=False, allow_null=True, min_value=0, max_value=ID_MAX,
                           help_text="message: a reply template's id")


ACTION_INPUT = extend_schema_serializer(component_name="DeskActionInput")(ActionInputSerializer)
@extend_schema_serializer(component_name="DeskBulkInput")
class BulkInputSerializer(serializers.Serializer):
    ids = serializers.ListField(child=Pattern(REQUEST_KEY), min_length=1, max_length=500,
                                help_text="request ids or references (DSR-XXXX-XXXX)")
    assignee = WholeNumber(required=False, allow_null=True, min_value=0, max_value=ID_MAX)


@extend_schema_serializer(component_name="DeskMessageInput")
class MessageInputSerializer(serializers.Serializer):
    text = Text(max_length=messaging.MAX_LENGTH, help_text="what the person reads (10,000 characters at most)")
    template = WholeNumber(required=False, allow_null=True, min_value=0, max_value=ID_MAX,
                           help_text="the reply template it started from, if any")


ACTION_OUTPUT = inline_serializer("DeskActionResult", {
    "detail": serializers.CharField(), "status": serializers.CharField()})


# Every desk operation may answer these: no or a wrong token (401), a role that may not (403).
REFUSED = {401: ErrorSerializer, 403: ErrorSerializer}


def _action_parameter(names) -> OpenApiParameter:
    return OpenApiParameter("action", str, OpenApiParameter.PATH, enum=sorted(names))


def _checked(serializer_class: type[serializers.Serializer], request: Request) -> dict:
    """The body as the schema types it; anything else is a 400 naming the fields (a string where a
    number is documented, a number where text is, a list for the object)."""
    serializer = serializer_class(data={} if request.data is None else request.data)
    if not serializer.is_valid():
        raise dispatch.InvalidInput(_first_error(serializer.errors))
    return dict(serializer.validated_data)


def _first_error(errors: Any) -> str:
    if isinstance(errors, dict):
        name, problem = next(iter(errors.items()))
        return f"{name}: {_first_error(problem)}" if name != "non_field_errors" else _first_error(problem)
    if isinstance(errors, list) and errors:
        return _first_error(errors[0])
    return str(errors)


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


# What QueueFilter.from_params takes; an empty value is no filter.
QUEUE_PARAMETERS = [
    OpenApiParameter(name, {"type": "string", "enum": ["", *values]}, required=False, description=description)
    for name, values, description in (
        ("status", Status.values, "one status (empty: any)"),
        ("kind", Kind.values, "one kind (empty: any)"),
        ("regime", Regime.values, "one law (empty: any)"),
        ("sort", list(SORTS), "the order (empty: due date first)"),
        ("state", ["open", "closed", "all"], "open or closed requests only (empty or all: both); a status filter wins"),
    )
] + [
    OpenApiParameter("assignee", {"type": "string", "pattern": "^(|me|none|[0-9]{1,9})$"}, required=False,
                     description="a user id, me or none (empty: anyone's)"),
    OpenApiParameter("due_within", {"type": "integer", "minimum": 0, "maximum": 3650}, required=False,
                     description="open requests due within this many days"),
    OpenApiParameter("q", str, required=False, description="a reference, part of one, or an email address"),
] + [
    OpenApiParameter(name, str, required=False, description=f"{what} with 1, true, on or yes; any other value: no")
    for name, what in (("overdue", "only overdue open requests"), ("open", "only open requests (older spelling)"))
]


class QueueView(DeskAPIView):
    pagination_class = QueuePagination

    @extend_schema(
        parameters=QUEUE_PARAMETERS,
        responses={200: QueueItemSerializer(many=True), 400: ErrorSerializer, **REFUSED},
        summary="The queue, filtered and sorted (due date first by default)",
    )
    def get(self, request: Request) -> Response:
        f, errors = QueueFilter.from_params(request.query_params)
        if request.query_params.get("due_within", None) == "":  # the desk's form sends it empty; the API, a number
            errors["due_within"] = "A number of days from 0 to 3650."
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
    # "message" has its own operation (MessageView, 201): its path never reaches this one.
    @extend_schema(request=ACTION_INPUT, parameters=[_action_parameter(set(dispatch.REQUEST_ACTIONS) - {"message"})],
                   responses={200: ACTION_OUTPUT, 400: ErrorSerializer, 404: ErrorSerializer,
                              409: ErrorSerializer, **REFUSED},
                   summary="An action on a request: approve, deny, extend, assign, note, regime, release, "
                   "reissue, close, complete, decide, keep, withhold, told, read, revoke (the status links)")
    def post(self, request: Request, request_id: str, action: str) -> Response:
        subject_request = request_by_key(request_id)
        try:
            detail = dispatch.run_request_action(action, subject_request, _checked(ActionInputSerializer, request),
                                                 request.user)
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
            detail = dispatch.run_job_action(action, job, _checked(ActionInputSerializer, request), request.user)
        except dispatch.REFUSALS as exc:
            return _refused(exc)
        job.refresh_from_db()
        return Response({"detail": detail, "status": job.status})


class BulkView(DeskAPIView):
    @extend_schema(
        request=BulkInputSerializer,
        parameters=[_action_parameter(("approve", "assign"))],
        responses={200: inline_serializer("DeskBulkResult", {"done": serializers.IntegerField(),
                                                              "refused": serializers.IntegerField()}),
                   400: ErrorSerializer, 404: ErrorSerializer, 409: ErrorSerializer, **REFUSED},
        summary="Bulk approve or assign (by ids or references)",
    )
    def post(self, request: Request, action: str) -> Response:
        if not isinstance(request.data, dict) or not isinstance(request.data.get("ids"), list) or not request.data["ids"]:
            return Response(error_body("invalid", "Give ids: a list of request ids or references.",
                                       {"ids": ["A list of request ids or references."]}), 400)
        try:
            data = _checked(BulkInputSerializer, request)
            counts = dispatch.run_bulk(action, [str(key) for key in data["ids"]], data, request.user)
        except dispatch.REFUSALS as exc:
            return _refused(exc)
        return Response(counts)


class MessageView(DeskAPIView):
    @extend_schema(
        request=MessageInputSerializer,
        responses={201: inline_serializer("DeskMessageSent", {
            "detail": serializers.CharField(), "id": serializers.UUIDField(), "status": serializers.CharField()}),
                   400: ErrorSerializer, 404: ErrorSerializer, 409: ErrorSerializer, **REFUSED},
        summary="Write to the person: emailed in the request's thread, stored encrypted, audited",
    )
    def post(self, request: Request, request_id: str) -> Response:
        subject_request = request_by_key(request_id)
        try:
            message = dispatch.write_message(subject_request, _checked(MessageInputSerializer, request), request.user)
        except dispatch.REFUSALS as exc:
            return _refused(exc)
        return Response({"detail": dispatch.MESSAGE_WRITTEN, "id": message.pk, "status": subject_request.status},
                        status=201)
