"""Input and output shapes of the public API (one explicit serializer per direction)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework import serializers

from dsr.core import i18n
from dsr.core.models import DataSubjectRequest, Kind, Regime, RequesterType, Status
from dsr.intake.submission import Submission, check_submission


class _TextOnly:
    """Only a JSON string: DRF's own fields take ``0`` or ``1.5`` as the text "0" or "1.5",
    which the schema (type: string) does not allow."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            raise serializers.ValidationError("Send text (a string), not a number or another type.")
        return super().to_internal_value(data)  # type: ignore[misc]


class Text(_TextOnly, serializers.CharField):
    pass


class Email(_TextOnly, serializers.EmailField):
    pass


class Pattern(_TextOnly, serializers.RegexField):
    pass


class ChangeSerializer(serializers.Serializer):
    field = Text(max_length=100, help_text="What to correct, e.g. 'postal address'.")
    value = Text(max_length=1000, help_text="The correct value.")


class AgentSerializer(serializers.Serializer):
    name = Text(max_length=200)
    email = Email(max_length=254)
    organisation = Text(max_length=200, required=False, allow_blank=True)


class RequestCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Kind.choices)
    email = Email(max_length=254)
    country = Text(
        max_length=2, required=False, allow_blank=True, help_text="ISO 3166 alpha-2, e.g. DE."
    )
    state = Text(
        max_length=2, required=False, allow_blank=True, help_text="US state code, e.g. CA."
    )
    regime = serializers.ChoiceField(
        choices=Regime.choices,
        required=False,
        help_text="Optional; derived from country and state when left out.",
    )
    name = Text(max_length=200, required=False, allow_blank=True)
    phone = Text(max_length=40, required=False, allow_blank=True)
    customer_id = Text(max_length=100, required=False, allow_blank=True)
    details = Text(max_length=5000, required=False, allow_blank=True)
    changes = ChangeSerializer(many=True, required=False, max_length=20)
    requester_type = serializers.ChoiceField(
        choices=RequesterType.choices, default=RequesterType.SUBJECT
    )
    agent = AgentSerializer(required=False)
    language = serializers.ChoiceField(
        choices=settings.LANGUAGES,
        required=False,
        help_text="The language of every email, the status page and the download (e.g. de, pt-br); "
        "when left out, the best match of the Accept-Language header, else English.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        submission = Submission(
            kind=attrs["kind"],
            email=attrs["email"],
            country=attrs.get("country", "").upper(),
            subdivision=attrs.get("state", "").upper(),
            regime=attrs.get("regime"),
            details=attrs.get("details", ""),
            name=attrs.get("name", ""),
            phone=attrs.get("phone", ""),
            customer_id=attrs.get("customer_id", ""),
            changes=[dict(c) for c in attrs.get("changes", [])],
            requester_type=attrs["requester_type"],
            agent=dict(attrs["agent"]) if attrs.get("agent") else None,
            channel="api",
            language=attrs.get("language") or i18n.current(),
        )
        problems = check_submission(submission)
        if problems:
            renamed = {"agent_name": "agent", "agent_email": "agent"}
            raise serializers.ValidationError(
                {renamed.get(key, key): [message] for key, message in problems.items()}
            )
        attrs["submission"] = submission
        return attrs


class RequestCreatedSerializer(serializers.ModelSerializer):
    next_step = serializers.SerializerMethodField()
    status_token = serializers.SerializerMethodField(
        help_text="For a request filed by a trusted integration: the status token, to follow it with "
        "'Authorization: Bearer <token>' without the person's email. Null otherwise (the person gets "
        "it by email once they have confirmed the request)."
    )

    class Meta:
        model = DataSubjectRequest
        fields = ["reference", "status", "kind", "regime", "received_at", "due_on", "next_step", "status_token"]

    def get_status_token(self, obj: DataSubjectRequest) -> str | None:
        from dsr.core.tokens import status_token

        # The request was filed by this very call: its copy is as stored.
        return status_token(obj, fresh=True) if self.context.get("integration") is not None else None

    def get_next_step(self, obj: DataSubjectRequest) -> str:
        from dsr.core.selectors import next_step

        if obj.status == Status.AWAITING_VERIFICATION:
            return _("We have emailed a 6-digit code to the address given. Send it to the verify endpoint.")
        return next_step(obj)  # e.g. verified at once by a trusted integration


class VerifySerializer(serializers.Serializer):
    code = Pattern(r"^\s*\d{6}\s*$", max_length=12, required=False)
    link_token = Text(max_length=500, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("code") and not attrs.get("link_token"):
            raise serializers.ValidationError({"code": ["Give the 6-digit code from the email."]})
        return attrs


class RequestStatusSerializer(serializers.ModelSerializer):
    status_label = serializers.CharField(source="get_status_display")
    kind_label = serializers.CharField(source="get_kind_display")
    regime_label = serializers.CharField(source="get_regime_display")
    due_on = serializers.DateField(source="effective_due_on")
    original_due_on = serializers.DateField(source="due_on")
    duplicate_of = serializers.SlugRelatedField(slug_field="reference", read_only=True, allow_null=True)
    next_step = serializers.SerializerMethodField()

    class Meta:
        model = DataSubjectRequest
        fields = [
            "reference",
            "kind",
            "kind_label",
            "regime",
            "regime_label",
            "status",
            "status_label",
            "language",
            "received_at",
            "verified_at",
            "due_on",
            "original_due_on",
            "extended_due_on",
            "closed_at",
            "outcome",
            "duplicate_of",
            "next_step",
        ]

    def get_next_step(self, obj: DataSubjectRequest) -> str:
        from dsr.core.selectors import next_step

        return next_step(obj)


class VerifiedSerializer(RequestStatusSerializer):
    status_token = serializers.CharField(help_text="Send as 'Authorization: Bearer <token>'.")

    class Meta(RequestStatusSerializer.Meta):
        fields = [*RequestStatusSerializer.Meta.fields, "status_token"]
