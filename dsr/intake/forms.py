"""The public web form: works without JavaScript; every error sits beside its field.

The page asks for the kind first and then shows only what that kind needs
(templates/dsr/request_form.html; dsr/static/dsr/public.js adapts it in place).
"""

from __future__ import annotations

from typing import Any

from django import forms

from dsr.core.models import Kind, RequesterType
from dsr.core.regimes import country_choices, us_state_choices
from dsr.intake.submission import Submission, check_submission

CHANGE_ROWS = 3


class RequestForm(forms.Form):
    kind = forms.ChoiceField(
        label="What would you like us to do?",
        choices=Kind.choices,
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose what you want us to do with your data.",
            "invalid_choice": "Choose what you want us to do with your data.",
        },
    )
    email = forms.EmailField(
        label="Your email address",
        max_length=254,
        help_text="We send a code to this address to confirm it is you.",
        error_messages={"required": "Enter your email address: we send the code to confirm it is you there."},
    )
    name = forms.CharField(label="Your name (optional)", max_length=200, required=False)
    country = forms.ChoiceField(
        label="Country where you live",
        error_messages={"required": "Choose the country where you live: it decides which law applies."},
    )
    state = forms.ChoiceField(label="US state (if you live in the United States)", required=False)
    details = forms.CharField(
        label="Anything else we should know (optional)",
        max_length=5000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    requester_type = forms.ChoiceField(
        label="Who is filing this request?",
        choices=[
            (RequesterType.SUBJECT, "I am the person the data is about"),
            (RequesterType.AGENT, "I am an authorized agent acting for someone"),
        ],
        initial=RequesterType.SUBJECT,
        widget=forms.RadioSelect,
    )
    agent_name = forms.CharField(label="Agent's name", max_length=200, required=False)
    agent_email = forms.EmailField(label="Agent's email address", max_length=254, required=False)
    agent_organisation = forms.CharField(
        label="Agent's organisation (optional)", max_length=200, required=False
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["country"].choices = [("", "Choose a country…"), *country_choices()]
        self.fields["state"].choices = [("", "Not in the United States"), *us_state_choices()]
        for i in range(1, CHANGE_ROWS + 1):
            self.fields[f"change_field_{i}"] = forms.CharField(
                label=f"Item {i}: what is wrong", max_length=100, required=False
            )
            self.fields[f"change_value_{i}"] = forms.CharField(
                label=f"Item {i}: the correct value", max_length=1000, required=False
            )

    def change_rows(self) -> list[tuple[forms.BoundField, forms.BoundField]]:
        return [
            (self[f"change_field_{i}"], self[f"change_value_{i}"]) for i in range(1, CHANGE_ROWS + 1)
        ]

    def _chosen(self, name: str) -> str:
        field = self.fields[name]
        raw = self.data.get(name) if self.is_bound else self.initial.get(name, field.initial)
        valid = {str(value) for value, _ in field.choices if value}
        return raw if isinstance(raw, str) and raw in valid else ""

    @property
    def chosen(self) -> dict[str, str | bool]:
        """What the person has chosen so far (checked): the page shows only what that needs."""
        country = self._chosen("country")
        return {
            "kind": self._chosen("kind"),
            "country": country,
            "requester_type": self._chosen("requester_type"),
            "state_hidden": bool(country) and country != "US",
        }

    def refuse_kind(self) -> None:
        """The no-script step was taken without a kind: say so, and nothing else yet."""
        self.full_clean()  # an unbound form: no errors, nothing cleaned
        self.cleaned_data = {}
        self.add_error("kind", self.fields["kind"].error_messages["required"])

    def error_links(self) -> list[tuple[str, str]]:
        """Each error once, in the order of the page, with the id of the field to jump to."""
        links = [("", str(error)) for error in self.non_field_errors()]
        changes = [f"change_{part}_{i}" for i in range(1, CHANGE_ROWS + 1) for part in ("field", "value")]
        order = ["kind", "email", "name", "country", "state", *changes, "details", "requester_type",
                 "agent_name", "agent_email", "agent_organisation"]
        for name in order:
            for error in self.errors.get(name, []):
                bound = self[name]
                anchor = f"{bound.auto_id}_0" if isinstance(bound.field.widget, forms.RadioSelect) else bound.auto_id
                links.append((anchor, str(error)))
        return links

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        changes = []
        # Corrections count only for a rectification: rows typed before switching kind are dropped.
        rows = range(1, CHANGE_ROWS + 1) if data.get("kind") == Kind.RECTIFICATION else range(0)
        for i in rows:
            field, value = data.get(f"change_field_{i}", ""), data.get(f"change_value_{i}", "")
            if field and not value:
                self.add_error(f"change_value_{i}", "Give the correct value for this item.")
            elif value and not field:
                self.add_error(f"change_field_{i}", "Say what this correct value is for.")
            elif field:
                changes.append({"field": field, "value": value})
        agent = None
        if data.get("requester_type") == RequesterType.AGENT:
            agent = {
                "name": data.get("agent_name", ""),
                "email": data.get("agent_email", ""),
                "organisation": data.get("agent_organisation", ""),
            }
        country = data.get("country", "")
        self.submission = Submission(
            kind=data.get("kind", ""),
            email=data.get("email", ""),
            name=data.get("name", ""),
            country=country,
            subdivision=data.get("state", "") if country == "US" else "",
            details=data.get("details", ""),
            changes=changes,
            requester_type=data.get("requester_type", RequesterType.SUBJECT),
            agent=agent,
            channel="web",
        )
        for field, message in check_submission(self.submission).items():
            field = "change_field_1" if field == "changes" else field
            if field not in self.errors:
                self.add_error(field, message)
        return data


class CodeForm(forms.Form):
    code = forms.RegexField(
        label="6-digit code from the email",
        regex=r"^\s*\d{6}\s*$",
        max_length=12,
        error_messages={"invalid": "Enter the 6 digits from the email."},
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
    )
