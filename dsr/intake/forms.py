"""The public web form: works without JavaScript; every error sits beside its field."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from dsr.core import i18n
from dsr.core.models import Kind, RequesterType
from dsr.core.regimes import country_choices, us_state_choices
from dsr.intake.submission import Submission, check_submission

CHANGE_ROWS = 3


class RequestForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("What would you like us to do?"), choices=Kind.choices, widget=forms.RadioSelect
    )
    email = forms.EmailField(
        label=_("Your email address"),
        max_length=254,
        help_text=_("We send a code to this address to confirm it is you."),
    )
    name = forms.CharField(label=_("Your name (optional)"), max_length=200, required=False)
    country = forms.ChoiceField(label=_("Country where you live"))
    state = forms.ChoiceField(label=_("US state (if you live in the United States)"), required=False)
    details = forms.CharField(
        label=_("Anything else we should know (optional)"),
        max_length=5000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    requester_type = forms.ChoiceField(
        label=_("Who is filing this request?"),
        choices=[
            (RequesterType.SUBJECT, _("I am the person the data is about")),
            (RequesterType.AGENT, _("I am an authorized agent acting for someone")),
        ],
        initial=RequesterType.SUBJECT,
        widget=forms.RadioSelect,
    )
    agent_name = forms.CharField(label=_("Agent's name"), max_length=200, required=False)
    agent_email = forms.EmailField(label=_("Agent's email address"), max_length=254, required=False)
    agent_organisation = forms.CharField(
        label=_("Agent's organisation (optional)"), max_length=200, required=False
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["country"].choices = [("", _("Choose a country…")), *i18n.localised(country_choices())]
        self.fields["state"].choices = [
            ("", _("Not in the United States")), *i18n.localised(us_state_choices(), i18n.subdivision_name)
        ]
        for i in range(1, CHANGE_ROWS + 1):
            self.fields[f"change_field_{i}"] = forms.CharField(
                label=_("Item %(number)s: what is wrong") % {"number": i}, max_length=100,
                required=False,
            )
            self.fields[f"change_value_{i}"] = forms.CharField(
                label=_("Item %(number)s: the correct value") % {"number": i}, max_length=1000,
                required=False,
            )

    def change_rows(self) -> list[tuple[forms.BoundField, forms.BoundField]]:
        return [
            (self[f"change_field_{i}"], self[f"change_value_{i}"]) for i in range(1, CHANGE_ROWS + 1)
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        changes = []
        for i in range(1, CHANGE_ROWS + 1):
            field, value = data.get(f"change_field_{i}", ""), data.get(f"change_value_{i}", "")
            if field and not value:
                self.add_error(f"change_value_{i}", _("Give the correct value for this item."))
            elif value and not field:
                self.add_error(f"change_field_{i}", _("Say what this correct value is for."))
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
        label=_("6-digit code from the email"),
        regex=r"^\s*\d{6}\s*$",
        max_length=12,
        error_messages={"invalid": _("Enter the 6 digits from the email.")},
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
    )
