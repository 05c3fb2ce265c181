"""What each regime says, as one table of data: provisions, rights, the complaint route.

Every text a person or a regulator reads (emails, the status page, the bundle's
``index.html``, the erasure certificate) takes its citations from here, through
:func:`for_request`, so a Californian is never told about the GDPR and a Portuguese
reader is told the name of the Portuguese authority. A provision the law does not
have is simply absent: a text then cites nothing rather than another law.

Keys of ``cite``:

- ``access``, ``portability``, ``rectification``, ``erasure``: the right itself;
- ``access_info``: what an access answer must say (purposes, recipients...);
- ``transfers``: the safeguards of transfers abroad;
- ``withhold_others``: holding back what would reveal other people's data;
- ``never_disclosed``: data never handed over, whatever the request;
- ``notify_recipients``: telling those who received the data of a correction or erasure;
- ``extension``: more time to answer; ``complaint``: the complaint route;
  ``court``: going to court; ``appeal``: appealing to us first;
- ``accountability``: keeping a record of how we handled a request.

Texts are marked for translation; citations and authorities' names are not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from .authorities import Authority, authorities_for
from .regimes import GDPR_COUNTRIES


@dataclass(frozen=True)
class Right:
    """One line of the rights list: what the person may ask, and where the law says so."""

    text: Any
    cite: str = ""


@dataclass(frozen=True, kw_only=True)
class Law:
    regime: str
    name: Any  # as a sentence reads it: "the EU General Data Protection Regulation (GDPR)"
    cite: Mapping[str, str]
    rights: tuple[Right, ...]
    complaint: Any  # "{contact}" is our own contact address, where an appeal goes first
    court: Any = ""  # the right to go to court, where the law gives one in these terms
    home: Any = ""  # where data stays when it is "not transferred abroad"...
    home_countries: frozenset[str] = frozenset()  # ...as ISO country codes
    grounds: Mapping[str, str] = field(default_factory=dict)  # why erased data may be kept


def _gdpr(regime: str, act: str, name: Any, home: Any, complaint: Any, countries: frozenset[str]) -> Law:
    """The EU GDPR and the UK GDPR number their articles alike."""

    def art(ref: str) -> str:
        return f"{act} Art. {ref}"

    return Law(
        regime=regime,
        name=name,
        home=home,
        home_countries=countries,
        cite={
            "access": art("15"), "access_info": art("15(1)"), "transfers": art("15(2)"),
            "withhold_others": art("15(4)"), "rectification": art("16"), "erasure": art("17"),
            "notify_recipients": art("19"), "portability": art("20"), "extension": art("12(3)"),
            "complaint": art("77"), "court": art("79"), "accountability": art("5(2)"),
        },
        rights=(
            Right(_("to get a copy of your data and to know how we use it (access)"), art("15")),
            Right(_("to have inaccurate data corrected and incomplete data completed (rectification)"), art("16")),
            Right(_("to have your data erased, where the law allows (erasure)"), art("17")),
            Right(_("to have us restrict how we use your data (restriction)"), art("18")),
            Right(_("to receive the data you gave us in a portable form, or have it sent to another "
                    "organisation where that is possible (portability)"), art("20")),
            Right(_("to object to our use of your data, and always to its use for direct marketing (objection)"),
                  art("21")),
            Right(_("not to be subject to a decision based solely on automated processing that has legal or "
                    "similarly significant effects on you"), art("22")),
        ),
        complaint=complaint,
        court=_("You also have the right to go to court ({cite})."),
        grounds={
            "expression": art("17(3)(a)"), "legal_obligation": art("17(3)(b)"), "public_health": art("17(3)(c)"),
            "archiving": art("17(3)(d)"), "legal_claims": art("17(3)(e)"),
        },
    )


def _us_state(regime: str, name: Any, section: str, parts: Mapping[str, str], appeal: str) -> Law:
    """The state laws after Virginia's model: rights in one section, an appeal to us first."""
    cite = {key: f"{section}{ref}" for key, ref in parts.items()}
    cite.update(appeal=appeal, complaint=appeal, extension=section)
    texts = {
        "access": _("to confirm whether we process your personal data, and to get access to it"),
        "rectification": _("to have inaccurate personal data corrected"),
        "erasure": _("to have personal data about you deleted"),
        "portability": _("to get a copy of the data you gave us in a portable, readily usable format"),
        "opt_out": _("to opt out of targeted advertising, the sale of your personal data, and profiling "
                     "that has legal or similarly significant effects"),
    }
    rights = tuple(Right(texts[key], cite[key]) for key in texts if key in cite)
    return Law(
        regime=regime,
        name=name,
        home=_("the United States"),
        home_countries=frozenset({"US"}),
        cite=cite,
        rights=(*rights, Right(_("to appeal our decision on your request"), appeal)),
        complaint=_("If you disagree with our decision, you can appeal it: write to us at {contact} ({cite}). "
                    "If we turn down your appeal, you can complain to:"),
    )


LAWS: dict[str, Law] = {
    "gdpr": _gdpr("gdpr", "GDPR", _("the EU General Data Protection Regulation (GDPR)"),
                  _("the European Economic Area (EEA)"),
                  _("You have the right to complain to a data protection authority, in particular in the EU or "
                    "EEA country where you live or work, or where you think the law was broken ({cite}):"),
                  GDPR_COUNTRIES),
    "uk_gdpr": _gdpr("uk_gdpr", "UK GDPR", _("the UK General Data Protection Regulation (UK GDPR)"),
                     _("the United Kingdom"),
                     _("You have the right to complain to the Information Commissioner ({cite}):"),
                     frozenset({"GB"})),
    "ccpa": Law(
        regime="ccpa",
        name=_("the California Consumer Privacy Act (CCPA), as amended by the CPRA"),
        home=_("the United States"),
        home_countries=frozenset({"US"}),
        cite={
            "access": "Cal. Civ. Code §1798.110", "access_info": "Cal. Civ. Code §1798.110(a)",
            "portability": "Cal. Civ. Code §1798.130(a)(3)(B)(iii)", "rectification": "Cal. Civ. Code §1798.106",
            "erasure": "Cal. Civ. Code §1798.105", "notify_recipients": "Cal. Civ. Code §1798.105(c)(1)",
            "never_disclosed": "11 CCR §7024(d)", "extension": "11 CCR §7021(b)", "accountability": "11 CCR §7101",
            "complaint": "Cal. Civ. Code §1798.199.45",
        },
        rights=(
            Right(_("to know what personal information we collect about you, where it comes from, why we use "
                    "it and to whom we disclose it, and to get a copy of it"), "Cal. Civ. Code §1798.110"),
            Right(_("to have us delete personal information we collected from you"), "Cal. Civ. Code §1798.105"),
            Right(_("to have us correct inaccurate personal information"), "Cal. Civ. Code §1798.106"),
            Right(_("to opt out of the sale or sharing of your personal information"), "Cal. Civ. Code §1798.120"),
            Right(_("to limit our use and disclosure of your sensitive personal information"),
                  "Cal. Civ. Code §1798.121"),
            Right(_("not to be treated differently for using these rights"), "Cal. Civ. Code §1798.125"),
        ),
        complaint=_("You can file a complaint with the California Privacy Protection Agency or the "
                    "California Attorney General ({cite}):"),
        grounds={
            "expression": "Cal. Civ. Code §1798.105(d)(4)", "legal_obligation": "Cal. Civ. Code §1798.105(d)(8)",
            "archiving": "Cal. Civ. Code §1798.105(d)(6)", "legal_claims": "Cal. Civ. Code §1798.145(a)(1)(E)",
        },
    ),
    "vcdpa": _us_state("vcdpa", _("the Virginia Consumer Data Protection Act (VCDPA)"), "Va. Code §59.1-577",
                       {"access": "(A)(1)", "rectification": "(A)(2)", "erasure": "(A)(3)", "portability": "(A)(4)",
                        "opt_out": "(A)(5)"}, "Va. Code §59.1-577(C)"),
    "cpa": _us_state("cpa", _("the Colorado Privacy Act (CPA)"), "C.R.S. §6-1-1306",
                     {"opt_out": "(1)(a)", "access": "(1)(b)", "rectification": "(1)(c)", "erasure": "(1)(d)",
                      "portability": "(1)(e)"}, "C.R.S. §6-1-1306(3)"),
    "ctdpa": _us_state("ctdpa", _("the Connecticut Data Privacy Act (CTDPA)"), "Conn. Gen. Stat. §42-518",
                       {"access": "(a)(1)", "rectification": "(a)(2)", "erasure": "(a)(3)", "portability": "(a)(4)",
                        "opt_out": "(a)(5)"}, "Conn. Gen. Stat. §42-518"),
    # Utah gives no right to correction, and no appeal; its Division of Consumer Protection
    # takes complaints (§13-61-401).
    "ucpa": Law(
        regime="ucpa",
        name=_("the Utah Consumer Privacy Act (UCPA)"),
        home=_("the United States"),
        home_countries=frozenset({"US"}),
        cite={
            "access": "Utah Code §13-61-201(1)", "erasure": "Utah Code §13-61-201(2)",
            "portability": "Utah Code §13-61-201(3)", "extension": "Utah Code §13-61-203",
            "complaint": "Utah Code §13-61-401",
        },
        rights=(
            Right(_("to confirm whether we process your personal data, and to get access to it"),
                  "Utah Code §13-61-201(1)"),
            Right(_("to have us delete the personal data you gave us"), "Utah Code §13-61-201(2)"),
            Right(_("to get a copy of the data you gave us in a portable, readily usable format"),
                  "Utah Code §13-61-201(3)"),
            Right(_("to opt out of targeted advertising and the sale of your personal data"),
                  "Utah Code §13-61-201(4)"),
        ),
        complaint=_("You can complain to the Utah Division of Consumer Protection ({cite}):"),
    ),
    "lgpd": Law(
        regime="lgpd",
        name=_("the Brazilian General Data Protection Law (LGPD, Lei 13.709/2018)"),
        home=_("Brazil"),
        home_countries=frozenset({"BR"}),
        cite={
            "access": "LGPD Art. 18, II", "access_info": "LGPD Art. 9", "rectification": "LGPD Art. 18, III",
            "erasure": "LGPD Art. 18, VI", "portability": "LGPD Art. 18, V", "notify_recipients": "LGPD Art. 18, §6",
            "transfers": "LGPD Art. 33", "complaint": "LGPD Art. 18, §1", "court": "LGPD Art. 22",
        },
        rights=(
            Right(_("to confirm that we process your data, and to get access to it"), "LGPD Art. 18, I-II"),
            Right(_("to have incomplete, inaccurate or out-of-date data corrected"), "LGPD Art. 18, III"),
            Right(_("to have unnecessary or excessive data anonymised, blocked or deleted"), "LGPD Art. 18, IV"),
            Right(_("to have your data moved to another provider (portability)"), "LGPD Art. 18, V"),
            Right(_("to have data we process with your consent deleted"), "LGPD Art. 18, VI"),
            Right(_("to know with whom we share your data"), "LGPD Art. 18, VII"),
            Right(_("to withdraw your consent"), "LGPD Art. 18, IX"),
            Right(_("to ask for a review of decisions made solely by automated means"), "LGPD Art. 20"),
        ),
        complaint=_("You have the right to petition the national data protection authority about us ({cite}):"),
        court=_("You may also defend your rights in court ({cite})."),
        grounds={"legal_obligation": "LGPD Art. 16, I", "archiving": "LGPD Art. 16, II"},
    ),
    # PIPEDA grants access and correction (Schedule 1, Principle 4.9); it has no right of
    # portability or erasure as such, so those cite nothing.
    "pipeda": Law(
        regime="pipeda",
        name=_("the Personal Information Protection and Electronic Documents Act (PIPEDA)"),
        home=_("Canada"),
        home_countries=frozenset({"CA"}),
        cite={
            "access": "PIPEDA Schedule 1, Principle 4.9", "rectification": "PIPEDA Schedule 1, Principle 4.9.5",
            "notify_recipients": "PIPEDA Schedule 1, Principle 4.9.5", "extension": "PIPEDA s. 8(4)",
            "complaint": "PIPEDA s. 11", "court": "PIPEDA s. 14",
        },
        rights=(
            Right(_("to be told whether we hold personal information about you, and to get access to it"),
                  "PIPEDA Schedule 1, Principle 4.9"),
            Right(_("to challenge its accuracy and completeness, and have it amended"),
                  "PIPEDA Schedule 1, Principle 4.9.5"),
            Right(_("to withdraw your consent, subject to legal or contractual restrictions"),
                  "PIPEDA Schedule 1, Principle 4.3.8"),
            Right(_("to challenge our compliance with these principles"), "PIPEDA Schedule 1, Principle 4.10"),
        ),
        complaint=_("You have the right to file a complaint with the privacy commissioner ({cite}):"),
        court=_("After the commissioner's report, you may apply to the Federal Court ({cite})."),
    ),
}


def law_for(regime: str) -> Law:
    try:
        return LAWS[regime]
    except KeyError:
        raise ValueError(f"no law table for regime {regime!r}; known: {', '.join(sorted(LAWS))}") from None


@dataclass(frozen=True)
class Applied:
    """A law as it applies to one request: its provisions, and the person's own authorities."""

    law: Law
    authorities: tuple[Authority, ...]
    contact: str

    @property
    def cite(self) -> Mapping[str, str]:
        return self.law.cite

    @property
    def name(self) -> Any:
        return self.law.name

    @property
    def rights(self) -> tuple[Right, ...]:
        return self.law.rights

    @property
    def home(self) -> Any:
        return self.law.home

    @property
    def complaint(self) -> str:
        return str(self.law.complaint).format(cite=self.cite.get("complaint", ""), contact=self.contact)

    @property
    def court(self) -> str:
        return str(self.law.court).format(cite=self.cite.get("court", "")) if self.law.court else ""

    def ground(self, key: str) -> str:
        return self.law.grounds.get(key, "")


def applied(regime: str, country: str = "", subdivision: str = "") -> Applied:
    return Applied(
        law=law_for(regime),
        authorities=authorities_for(regime, country, subdivision),
        contact=settings.DSR_CONTACT_EMAIL,
    )


def for_request(request: Any) -> Applied:
    """The law of ``request`` (a DataSubjectRequest), for the person where they live."""
    return applied(request.regime, request.country, request.subdivision)

