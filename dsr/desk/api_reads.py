"""The officer API's reads beyond the queue: one person's requests, a request's audit trail in
words, and the emails sent about it. Auditors may read them, like everything at the desk."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from dsr.core.models import EmailLog
from dsr.core.selectors import request_by_key
from dsr.desk import wording
from dsr.desk.api import REFUSED, DeskAPIView, QueueItemSerializer
from dsr.desk.queries import person_key, person_requests
from dsr.web.errors import ErrorSerializer, error_body

AUDIT_LINES = inline_serializer("DeskAuditLine", many=True, fields={
    "seq": serializers.IntegerField(help_text="the event's place in the audit chain"),
    "at": serializers.DateTimeField(),
    "actor": serializers.CharField(help_text='who, in words: "pat", "The worker", "The person", a system'),
    "actor_type": serializers.CharField(),
    "verb": serializers.CharField(help_text="the event's code, e.g. status.approved"),
    "event": serializers.CharField(help_text='a short name, e.g. "Approved"'),
    "text": serializers.CharField(help_text='the whole sentence, e.g. "pat approved the request."'),
})


class EmailSerializer(serializers.ModelSerializer):
    status_label = serializers.CharField(source="get_status_display")

    class Meta:
        model = EmailLog
        fields = ["id", "template", "subject", "message_id", "status", "status_label", "error", "created_at"]


class AuditView(DeskAPIView):
    @extend_schema(responses={200: AUDIT_LINES, 404: ErrorSerializer, **REFUSED},
                   summary="A request's audit trail, oldest first, each event in words with its actor")
    def get(self, request: Request, request_id: str) -> Response:
        subject_request = request_by_key(request_id)
        lines = wording.describe_all(subject_request.audit_events.order_by("seq"))
        return Response([{"seq": line.seq, "at": line.at, "actor": line.actor, "actor_type": line.actor_type,
                          "verb": line.verb, "event": line.event, "text": line.text} for line in lines])


class EmailsView(DeskAPIView):
    @extend_schema(responses={200: EmailSerializer(many=True), 404: ErrorSerializer, **REFUSED},
                   summary="Every email sent about a request: which, when, and whether the mail server took it")
    def get(self, request: Request, request_id: str) -> Response:
        subject_request = request_by_key(request_id)
        return Response(EmailSerializer(subject_request.emails.all(), many=True).data)


class PeopleView(DeskAPIView):
    @extend_schema(
        parameters=[OpenApiParameter("email", {"type": "string", "pattern": "@", "maxLength": 254}, required=True,
                                     description="the person's email address (compared as a keyed hash)")],
        responses={200: inline_serializer("DeskPerson", {
            "person": serializers.CharField(help_text="the person's key (a keyed hash of the address)"),
            "open": serializers.IntegerField(),
            "requests": QueueItemSerializer(many=True)}), 400: ErrorSerializer, **REFUSED},
        summary="Every request of one person, open first, found by the keyed hash of their email",
    )
    def get(self, request: Request) -> Response:
        email = request.query_params.get("email", "").replace("\x00", "").strip()
        if "@" not in email or len(email) > 254:
            return Response(error_body("invalid", "Give the person's email address: ?email=…",
                                       {"email": ["An email address."]}), status=400)
        key = person_key(email)
        rows = person_requests(key)
        return Response({"person": key, "open": sum(1 for r in rows if r.is_open),
                         "requests": QueueItemSerializer(rows, many=True).data})
