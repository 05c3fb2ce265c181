"""The jobs API for connected systems: pull their jobs, claim one, report its result.

A system authenticates with its own token (``Authorization: Bearer <token>``,
stored hashed), which opens only that system's jobs. A webhook system reports
with the one-time callback token it was sent with the job instead.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from connectors.base import MAX_COUNT
from dsr.api.serializers import Text, TrueOrFalse, WholeNumber
from dsr.core.audit import Actor
from dsr.core.models import ActorType, ConnectorJob, JobStatus, SystemConnection
from dsr.engine import connections, outcomes
from dsr.results import suppression
from dsr.web import ratelimit
from dsr.web.errors import ErrorSerializer
from dsr.web.http import bearer_token


def system_for(request: Request) -> SystemConnection:
    token = bearer_token(request)
    if not token:
        raise NotAuthenticated("Send the system's token as 'Authorization: Bearer <token>'.")
    system = SystemConnection.objects.filter(token_hash=connections.token_hash(token), enabled=True).first()
    if system is None:
        raise AuthenticationFailed("Unknown or disabled system token.")
    ratelimit.check_token(request, "system", str(system.pk))
    return system


class RecordSerializer(serializers.Serializer):
    category = Text(max_length=100, default="records")
    fields = serializers.DictField()


# OpenAPI 3.0 has no propertyNames: the names' limits are said in words.
@extend_schema_field({"type": "object", "description": "records by category; a category's name has at most "
                      "100 characters and no NUL", "additionalProperties": {"type": "integer", "minimum": 0,
                                                                          "maximum": MAX_COUNT}})
class CountsByCategory(serializers.DictField):
    child = WholeNumber(min_value=0, max_value=MAX_COUNT)

    def to_internal_value(self, data):
        counts = super().to_internal_value(data)
        if any("\x00" in name or len(name) > 100 for name in counts):
            raise serializers.ValidationError("Category names have at most 100 characters and no NUL.")
        return counts


class ResultSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["completed", "failed"])
    found = WholeNumber(min_value=0, max_value=MAX_COUNT, required=False)
    affected = WholeNumber(min_value=0, max_value=MAX_COUNT, required=False)
    by_category = CountsByCategory(required=False)
    identifiers = serializers.DictField(child=Text(max_length=200), required=False)
    records = RecordSerializer(many=True, required=False, max_length=100_000)
    error = Text(max_length=2000, required=False, allow_blank=True)
    permanent = TrueOrFalse(default=False)
    note = Text(max_length=2000, required=False, allow_blank=True)


class JobSerializer(serializers.ModelSerializer):
    request_reference = serializers.CharField(source="request.reference")
    identifiers = serializers.SerializerMethodField()
    changes = serializers.SerializerMethodField()
    due_on = serializers.DateField(source="request.effective_due_on")

    class Meta:
        model = ConnectorJob
        fields = ["id", "action", "idempotency_key", "request_reference", "identifiers", "changes",
                  "due_on", "claimed_at", "created_at"]

    def get_identifiers(self, job: ConnectorJob) -> dict[str, str]:
        """Only the identifier kinds this system is configured to receive."""
        allowed = job.system.config.get("send_identifiers", ["email"])
        subject = connections.subject_for(job)
        return {kind: value for kind, value in subject.identifiers.items() if kind in allowed}

    def get_changes(self, job: ConnectorJob) -> dict[str, str]:
        return connections.requested_changes(job) if job.action == "rectify" else {}


class SystemJobsView(APIView):
    @extend_schema(responses={200: JobSerializer(many=True), 401: ErrorSerializer},
                   summary="A connected system's jobs waiting for it")
    def get(self, request: Request) -> Response:
        system = system_for(request)
        waiting = (
            ConnectorJob.objects.filter(system=system, status=JobStatus.WAITING)
            .select_related("request", "system")
            .order_by("created_at")[:100]
        )
        return Response(JobSerializer(waiting, many=True).data)


def _own_job(system: SystemConnection, job_id: Any) -> ConnectorJob:
    job = ConnectorJob.objects.select_related("request", "system").filter(pk=job_id, system=system).first()
    if job is None:
        raise Http404("No such job for this system.")
    return job


class SystemJobClaimView(APIView):
    @extend_schema(request=None, responses={200: JobSerializer, 401: ErrorSerializer, 404: ErrorSerializer,
                                            409: ErrorSerializer}, summary="Claim a waiting job")
    def post(self, request: Request, job_id: str) -> Response:
        job = _own_job(system_for(request), job_id)
        now = timezone.now()
        lease = timedelta(seconds=settings.DSR_JOB_LEASE_SECONDS)
        # A claim holds for the lease: a second claim meanwhile (a second worker of the same
        # system, or a retry) is refused, so only one of them works the job.
        claimed = ConnectorJob.objects.filter(pk=job.pk, status=JobStatus.WAITING).filter(
            Q(claimed_at__isnull=True) | Q(claimed_at__lte=now - lease)
        ).update(claimed_at=now)
        if not claimed:
            job.refresh_from_db()
            if job.status == JobStatus.WAITING:
                until = job.claimed_at + lease
                return Response({"error": "claimed", "fields": {},
                                 "detail": f"This job is claimed until {until.isoformat()}."}, 409)
            return Response({"error": "not_waiting", "detail": "This job is not waiting.", "fields": {}}, 409)
        job.refresh_from_db()
        return Response(JobSerializer(job).data)


class SystemJobResultView(APIView):
    @extend_schema(request=ResultSerializer,
                   responses={200: inline_serializer("JobResultRecorded", {
                                  "id": serializers.UUIDField(),
                                  "status": serializers.ChoiceField(choices=JobStatus.choices)}),
                              400: ErrorSerializer, 401: ErrorSerializer,
                              404: ErrorSerializer, 409: ErrorSerializer},
                   summary="Report a job's result (system token, or the job's one-time callback token)")
    def post(self, request: Request, job_id: str) -> Response:
        job, callback_digest = self._authorised_job(request, job_id)
        payload = ResultSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        if job.status not in (JobStatus.WAITING, JobStatus.RUNNING):
            return Response({"error": "not_waiting", "detail": "This job already has its result.", "fields": {}}, 409)
        with transaction.atomic():
            # A callback token works once, and is used up only by a result we accept: a
            # malformed body (400 above) leaves it for the corrected retry.
            if callback_digest and not ConnectorJob.objects.filter(
                pk=job.pk, callback_token_hash=callback_digest
            ).update(callback_token_hash=""):
                raise AuthenticationFailed("This callback token has been used.")
            outcomes.report(job, payload.validated_data, actor=Actor(ActorType.SYSTEM, job.system.name))
        job.refresh_from_db()
        return Response({"id": str(job.pk), "status": job.status})

    def _authorised_job(self, request: Request, job_id: str) -> tuple[ConnectorJob, str]:
        """The job, and the callback token's hash when that is what was sent ("" for a system token)."""
        token = bearer_token(request)
        if not token:
            raise NotAuthenticated("Send the system token or the job's callback token.")
        digest = connections.token_hash(token)
        job = ConnectorJob.objects.select_related("request", "system").filter(
            pk=job_id, callback_token_hash=digest
        ).first()
        if job is not None:
            if not connections.callback_token_alive(job):
                raise AuthenticationFailed("This callback token has expired with the request's deadline.")
            return job, digest
        return _own_job(system_for(request), job_id), ""


class SuppressionCheckSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["email", "phone", "customer_id"], default="email")
    sha256 = serializers.RegexField(
        r"^[0-9a-fA-F]{64}$", help_text="hex SHA-256 of the normalised identifier (email: trimmed, lower-case)"
    )


class SuppressionCheckView(APIView):
    @extend_schema(request=SuppressionCheckSerializer,
                   responses={200: inline_serializer("Suppressed", {"suppressed": serializers.BooleanField(),
                                                                    "system": serializers.CharField()}),
                              400: ErrorSerializer, 401: ErrorSerializer},
                   summary="Was this person erased? (so a re-import or restore does not bring them back)")
    def post(self, request: Request) -> Response:
        system = system_for(request)
        query = SuppressionCheckSerializer(data=request.data)
        query.is_valid(raise_exception=True)
        found = suppression.is_suppressed(query.validated_data["kind"], query.validated_data["sha256"])
        return Response({"suppressed": found, "system": system.name})
