"""Every text a person or regulator reads cites the law of the request, and names their own authority.

The texts are rendered through the product for a person under each regime (see
``tests/dsr/texts.py``); none may hold another regime's provisions, and each text that
tells the person how to complain names the authority of their country or state, with its
web address.
"""

from __future__ import annotations

import re

import pytest

from connectors.memory import MemoryConnector
from dsr.core.authorities import AUTHORITIES, authorities_for
from dsr.core.law import LAWS
from tests.dsr.texts import PLACES, every_text, make_systems

pytestmark = pytest.mark.django_db

# Words that mark another family of laws, beyond the other regimes' own citations.
FOREIGN_WORDS = {
    "gdpr": ["CCPA", "§", "UK GDPR", "Information Commissioner", "LGPD", "PIPEDA", "Attorney General"],
    "uk_gdpr": ["EU GDPR", "§", "CCPA", "European Data Protection Board", "LGPD", "PIPEDA", "EEA"],
    "ccpa": ["GDPR", "Art.", "supervisory authority", "LGPD", "PIPEDA", "Virginia", "data protection authority"],
    "vcdpa": ["GDPR", "Art.", "supervisory authority", "CCPA", "California", "LGPD", "PIPEDA"],
    "cpa": ["GDPR", "Art.", "supervisory authority", "CCPA", "California", "LGPD", "PIPEDA"],
    "ctdpa": ["GDPR", "Art.", "supervisory authority", "CCPA", "California", "LGPD", "PIPEDA"],
    "ucpa": ["GDPR", "Art.", "supervisory authority", "CCPA", "California", "LGPD", "PIPEDA"],
    "lgpd": ["GDPR", "CCPA", "Civ. Code", "PIPEDA", "supervisory authority", "Attorney General"],
    "pipeda": ["GDPR", "Art.", "§", "CCPA", "LGPD", "supervisory authority"],
}
# What a text holds that is made at random, not written: links (with their tokens), references
# ("DSR-CCPA-EEA1" could be one), codes. Taken out before looking for another law's words.
MADE_AT_RANDOM = re.compile(r"""https?://[^\s"'<>]+|href="[^"]*"|DSR-[0-9A-Z]{4}-[0-9A-Z]{4}|[\w-]{20,}""")
# The texts that tell the person how to complain.
COMPLAINT_TEXTS = ("access released (text)", "erasure completed (text)", "rectification completed (text)",
                   "denial (text)", "denial (html)", "extension (text)", "bundle index.html",
                   "status page, completed", "status page, denied")


def _own_strings(regime: str) -> list[str]:
    law = LAWS[regime]
    own = [*law.cite.values(), *(r.cite for r in law.rights), *law.grounds.values()]
    return sorted({s for s in own if s}, key=len, reverse=True)


def _foreign_strings(regime: str) -> set[str]:
    """Other regimes' provisions and authorities that this regime does not share."""
    own = set(_own_strings(regime))
    theirs = set()
    for other in LAWS:
        if other != regime:
            theirs |= {s for s in _own_strings(other) if s not in own}
            theirs |= {a.name for place in AUTHORITIES[other].values() for a in place}
    return theirs - {a.name for place in AUTHORITIES[regime].values() for a in place}


def _as_a_word(word: str) -> re.Pattern:
    """``word`` where it stands as one: "EEA" in "the EEA", not in "EEA1"; "§" in "§ 1798"."""
    before = r"(?<!\w)" if re.match(r"\w", word) else ""
    after = r"(?!\w)" if re.search(r"\w$", word) else ""
    return re.compile(before + re.escape(word) + after)


@pytest.mark.parametrize("regime", sorted(PLACES))
def test_every_text_cites_only_its_own_law_and_names_the_persons_authority(
    regime, client, desk_login, django_capture_on_commit_callbacks, settings
):
    from django.test import Client

    MemoryConnector.reset()
    settings.DSR_CONTACT_EMAIL = "privacy@example.org"
    make_systems()
    desk_login("officer")  # ``client`` is the officer's; the person uses a browser of their own
    texts = every_text(regime, django_capture_on_commit_callbacks, Client(), client)
    assert len(texts) >= 25

    foreign = _foreign_strings(regime)
    for name, text in texts.items():
        rest = MADE_AT_RANDOM.sub(" ", text)
        for own in _own_strings(regime):  # "UK GDPR Art. 15" holds "GDPR Art. 15": take ours out first
            rest = rest.replace(own, "")
        found = sorted(s for s in foreign if s in rest)
        words = [w for w in FOREIGN_WORDS[regime] if _as_a_word(w).search(rest)]
        assert not found and not words, f"{regime}, {name}: another law's {found or words}"

    country, state = PLACES[regime]
    mine = authorities_for(regime, country, state)
    assert mine and "*" not in [a.name for a in mine]
    for name in COMPLAINT_TEXTS:
        if name not in texts:
            continue
        for authority in mine:
            assert authority.name.replace("'", "&#x27;") in texts[name] or authority.name in texts[name], (name, authority)
            assert authority.url in texts[name], (name, authority.url)
    law = LAWS[regime]
    if law.cite.get("complaint"):
        assert all(law.cite["complaint"] in texts[n] for n in COMPLAINT_TEXTS if n in texts)
    assert law.cite.get("rectification", "") in texts["bundle index.html"]
