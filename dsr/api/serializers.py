"""Input and output shapes of the public API (one explicit serializer per direction)."""

from __future__ import annotations

from typing import Any

import pycountry
from django.conf import settings
from django.core.validators import RegexValidator
from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiSerializerExtension
from rest_framework import serializers

from dsr.core import i18n
from dsr.core.models import DataSubjectRequest, Kind, Regime, RequesterType, Status
from dsr.core.regimes import us_state_choices
from dsr.intake.submission import Submission, check_submission


class _TextOnly:
    """Only a JSON string: DRF's own fields take ``0`` or ``1.5`` as the text "0" or "1.5",
    which the schema (type: string) does not allow."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            raise serializers.ValidationError("Send text (a string), not a number or another type.")
        return super().to_internal_value(data)  # type: ignore[misc]


# What DRF's CharField accepts, as a pattern the schema shows (drf-spectacular reads a field's
# RegexValidator): no NUL character, and, where blank is refused, something besides spaces
# (the field trims them). A blank-allowed field's schema adds "" as the other choice.
NO_NUL = r"^[^\u0000]+$"
NOT_BLANK = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"


class Text(_TextOnly, serializers.CharField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        pattern = NO_NUL if self.allow_blank else NOT_BLANK
        self.validators.append(RegexValidator(pattern, "Send text without NUL characters."))


class WholeNumber(serializers.IntegerField):
    """Only a JSON integer: DRF's IntegerField also takes "5", 5.0 and true."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            raise serializers.ValidationError("Send a whole number, not text or another type.")
        return super().to_internal_value(data)


class TrueOrFalse(serializers.BooleanField):
    """Only JSON true or false: DRF's BooleanField also takes "yes", 1 and "on"."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            raise serializers.ValidationError("Send true or false.")
        return data


class Uuid(serializers.UUIDField):
    """Only a UUID written as text: DRF's UUIDField also takes a number."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            raise serializers.ValidationError("Send a UUID as text.")
        return super().to_internal_value(data)


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


def _either_case(codes: list[str]) -> list[str]:
    return ["", *codes, *(code.lower() for code in codes)]


class RequestCreateSchema(OpenApiSerializerExtension):
    """The rules ``check_submission`` applies across fields, in the schema too (OpenAPI 3.0 has
    no if/then: each rule is an anyOf of the ways to meet it)."""

    target_class = RequestCreateSerializer

    def map_serializer(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        properties = schema["properties"]
        countries = sorted(country.alpha_2 for country in pycountry.countries)
        properties["country"] = {"type": "string", "enum": _either_case(countries),
                                 "description": "ISO 3166 alpha-2, e.g. DE (either letter case)."}
        properties["state"] = {"type": "string", "enum": _either_case([c for c, _ in us_state_choices()]),
                               "description": "US state code, e.g. CA; needed where the country is US."}
        properties["changes"]["maxItems"] = 20
        # Patterns, not enums, inside the rules: drf-spectacular would make each enum a component.
        us = {"pattern": "^[Uu][Ss]$"}
        given = {"minLength": 1}
        schema["allOf"] = [
            # Where the person lives, or the law by name.
            {"anyOf": [{"required": ["country"], "properties": {"country": given}}, {"required": ["regime"]}]},
            # In the US, a state; elsewhere any; no state without a country.
            {"anyOf": [
                {"required": ["country", "state"], "properties": {"country": us, "state": given}},
                {"required": ["country"], "properties": {"country": {**given, "not": us}}},
                {"properties": {"state": {"maxLength": 0}, "country": {"not": us}}},
            ]},
            # An agent's request names the agent.
            {"anyOf": [{"properties": {"requester_type": {"pattern": f"^{RequesterType.SUBJECT}$"}}},
                       {"required": ["agent"]}]},
            # A rectification says what to correct.
            {"anyOf": [{"properties": {"kind": {"not": {"pattern": f"^{Kind.RECTIFICATION}$"}}}},
                       {"required": ["changes"], "properties": {"changes": {"minItems": 1}}}]},
        ]
        return schema


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


SIX_DIGITS = r"^\s*\d{6}\s*$"


class VerifySerializer(serializers.Serializer):
    """The code, or the token of the emailed link: at least one (the schema says so with anyOf)."""

    code = Pattern(SIX_DIGITS, max_length=12, required=False)
    link_token = Text(max_length=500, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("code") and not attrs.get("link_token"):
            raise serializers.ValidationError({"code": ["Give the 6-digit code from the email."]})
        return attrs


class VerifySchema(OpenApiSerializerExtension):
    target_class = VerifySerializer

    def map_serializer(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        return {**schema, "anyOf": [{"required": ["code"]}, {"required": ["link_token"]}]}


class DownloadCodeSerializer(serializers.Serializer):
    code = Pattern(SIX_DIGITS, max_length=12, help_text="the download code from the email")


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
