"""The public API: file a request, verify, resend the code, follow the status.

Views parse input, enforce rate limits and call services; nothing else.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.db.models import Q
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers as drf
from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dsr.api.serializers import (
    DownloadCodeSerializer,
    RequestCreatedSerializer,
    RequestCreateSerializer,
    RequestStatusSerializer,
    VerifiedSerializer,
    VerifySerializer,
)
from dsr.core import queue, selectors, tokens
from dsr.core.models import IntegrationToken, Status
from dsr.core.queue import Task
from dsr.core.selectors import request_by_reference
from dsr.intake import verification
from dsr.intake.submission import submit_request
from dsr.intake.verification import CODE_RESENT
from dsr.results import access
from dsr.web import ratelimit
from dsr.web.errors import ErrorSerializer, error_body
from dsr.web.http import bearer_token, zip_response


def integration_for(request: Request) -> IntegrationToken | None:
    """A trusted integration's bearer token, if one is sent; a wrong one is refused."""
    token = bearer_token(request)
    if not token:
        return None
    integration = IntegrationToken.objects.filter(
        token_hash=hashlib.sha256(token.encode()).hexdigest(), enabled=True
    ).first()
    if integration is None:
        raise AuthenticationFailed("Unknown or disabled integration token.")
    ratelimit.check_token(request, "integration", str(integration.pk))
    now = timezone.now()
    # At most one write a minute: a busy integration must not queue on its own token's row,
    # nor pay a query per call to find that it need not write.
    if integration.last_used_at is None or integration.last_used_at < now - timedelta(minutes=1):
        IntegrationToken.objects.filter(pk=integration.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - timedelta(minutes=1))
        ).update(last_used_at=now)
    return integration


class RequestCreateView(APIView):
    @extend_schema(
        request=RequestCreateSerializer,
        responses={201: RequestCreatedSerializer, 400: ErrorSerializer, 429: ErrorSerializer},
        summary="File a data-subject request",
    )
    def post(self, request: Request) -> Response:
        integration = integration_for(request)
        serializer = RequestCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        submission = serializer.validated_data["submission"]
        if integration is None:
            ratelimit.check_submission(request, submission.email)
        created = submit_request(submission, integration=integration)
        return Response(RequestCreatedSerializer(created, context={"integration": integration}).data, status=201)


class RequestVerifyView(APIView):
    @extend_schema(
        request=VerifySerializer,
        responses={
            200: VerifiedSerializer,
            400: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
            429: ErrorSerializer,
        },
        summary="Prove identity with the emailed code (or the link's token)",
    )
    def post(self, request: Request, reference: str) -> Response:
        subject_request = request_by_reference(reference)
        serializer = VerifySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ratelimit.check_verification(request, subject_request)
        verified = verification.verify_by_reference(
            subject_request,
            code=serializer.validated_data.get("code"),
            link_token=serializer.validated_data.get("link_token"),
        )
        verified.status_token = tokens.status_token(verified)
        return Response(VerifiedSerializer(verified).data)


class RequestResendView(APIView):
    @extend_schema(
        request=None,
        responses={202: inline_serializer("Resent", {"detail": drf.CharField()}), 404: ErrorSerializer,
                   429: ErrorSerializer},
        summary="Send a new verification code (the same answer whether or not the request still needs one)",
    )
    def post(self, request: Request, reference: str) -> Response:
        subject_request = request_by_reference(reference)
        ratelimit.check_resend(request, subject_request)
        if subject_request.status == Status.AWAITING_VERIFICATION:
            queue.enqueue(Task.SEND_VERIFICATION, str(subject_request.pk))
        return Response({"detail": gettext(CODE_RESENT)}, 202)


class RequestStatusView(APIView):
    @extend_schema(
        responses={200: RequestStatusSerializer, 401: ErrorSerializer, 404: ErrorSerializer},
        summary="Status of one's own request (send 'Authorization: Bearer <status token>')",
    )
    def get(self, request: Request, reference: str) -> Response:
        token = bearer_token(request)
        if not token:
            return Response(
                error_body("not_authenticated", "Send the status token from your email."), status=401
            )
        try:
            subject_request = request_by_reference(reference)
        except Http404:
            subject_request = None
        if subject_request is None or not tokens.check_status_token(subject_request, token):
            # One answer for an unknown reference and a wrong token: nothing to enumerate.
            raise Http404("No request matches this reference and token (links expire).")
        return Response(RequestStatusSerializer(subject_request).data)


def _own_request(request: Request, reference: str):
    """The subject's request, proven by the status token; one 404 for every refusal."""
    token = bearer_token(request)
    if not token:
        raise NotAuthenticated("Send the status token from your email.")
    try:
        subject_request = request_by_reference(reference)
    except Http404:
        subject_request = None
    if subject_request is None or not tokens.check_status_token(subject_request, token):
        raise Http404("No request matches this reference and token (links expire).")
    return subject_request


class DownloadCodeView(APIView):
    @extend_schema(request=None, responses={202: inline_serializer("CodeSent", {"detail": drf.CharField()}),
                                            401: ErrorSerializer, 404: ErrorSerializer, 409: ErrorSerializer,
                                            429: ErrorSerializer},
                   summary="Email a one-time download code (status token required)")
    def post(self, request: Request, reference: str) -> Response:
        subject_request = _own_request(request, reference)
        item = selectors.current_bundle(subject_request)
        if item is None or not item.available:
            return Response(error_body("no_download", "There is no download, or it has expired."), status=409)
        ratelimit.check_resend(request, subject_request)
        queue.enqueue(Task.SEND_DOWNLOAD_CODE, str(subject_request.pk))
        return Response({"detail": "A download code is on its way."}, status=202)


class DownloadView(APIView):
    @extend_schema(request=DownloadCodeSerializer,
                   responses={(200, "application/zip"): bytes, 400: ErrorSerializer, 401: ErrorSerializer,
                              404: ErrorSerializer, 409: ErrorSerializer, 429: ErrorSerializer},
                   summary="Download the bundle with the emailed code (status token required)")
    def post(self, request: Request, reference: str):
        subject_request = _own_request(request, reference)
        serializer = DownloadCodeSerializer(data=request.data)
        if not serializer.is_valid():
            raise drf.ValidationError({"code": ["Give the 6-digit download code from the email."]})
        ratelimit.check_verification(request, subject_request)
        verification.check_download_code(subject_request, serializer.validated_data["code"])
        try:
            item, chunks = access.open_download(subject_request)
        except access.NotReady as exc:
            return Response(error_body("no_download", str(exc)), status=409)
        return zip_response(subject_request, item, chunks)
