"""The law table: every regime has one, every EU/EEA country its authority, and the lookups."""

from __future__ import annotations

import pycountry
import pytest

from dsr.core import law, regimes
from dsr.core.authorities import AUTHORITIES, EEA_AUTHORITIES, authorities_for
from dsr.core.deadlines import RULES
from dsr.core.models import ErasureGround, Regime

EU = {"AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV", "LT", "LU",
      "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE"}
EEA = EU | {"IS", "LI", "NO"}


def test_every_regime_has_a_law_and_authorities():
    assert set(law.LAWS) == set(Regime.values) == set(RULES) == set(AUTHORITIES)
    for key, item in law.LAWS.items():
        assert item.regime == key and item.rights and item.cite.get("access")
        assert str(item.complaint).strip() and "*" in AUTHORITIES[key]


def test_every_eu_and_eea_country_is_under_the_gdpr_with_its_own_authority(settings):
    settings.DSR_DEFAULT_REGIME = "pipeda"  # so that a country missing from the list shows
    assert len(EU) == 27
    for code in EEA:
        assert pycountry.countries.get(alpha_2=code) is not None
        assert regimes.regime_for(code) == "gdpr", code
        (authority,) = EEA_AUTHORITIES[code]
        assert authority.url.startswith("https://") and authority is not EEA_AUTHORITIES["*"][0]
    assert set(EEA_AUTHORITIES) - {"*"} == EEA


@pytest.mark.parametrize(("regime", "country", "state", "expected"), [
    ("gdpr", "PT", "", "Comissão Nacional de Proteção de Dados (CNPD, Portugal)"),
    ("gdpr", "US", "TX", "European Data Protection Board, which lists every EU and EEA data protection authority"),
    ("uk_gdpr", "GB", "", "Information Commissioner's Office (ICO)"),
    ("ccpa", "US", "CA", "California Privacy Protection Agency (CPPA)"),
    ("vcdpa", "US", "VA", "Office of the Attorney General of Virginia"),
    ("cpa", "US", "CO", "Colorado Attorney General"),
    ("ctdpa", "US", "CT", "Connecticut Attorney General"),
    ("ucpa", "US", "UT", "Utah Division of Consumer Protection"),
    ("lgpd", "BR", "", "Autoridade Nacional de Proteção de Dados (ANPD, Brazil)"),
    ("pipeda", "CA", "", "Office of the Privacy Commissioner of Canada"),
    ("pipeda", "CA", "QC", "Commission d'accès à l'information du Québec"),
    ("pipeda", "CA", "CA-BC", "Office of the Information and Privacy Commissioner for British Columbia"),
])
def test_the_authority_is_the_persons_own(regime, country, state, expected):
    found = authorities_for(regime, country, state)
    assert found[0].name == expected and found[0].url.startswith("https://")


def test_a_californian_has_both_the_agency_and_the_attorney_general():
    names = [a.name for a in authorities_for("ccpa", "US", "CA")]
    assert names == ["California Privacy Protection Agency (CPPA)", "California Attorney General"]


def test_a_provision_the_law_lacks_is_absent_not_borrowed():
    assert "rectification" not in law.LAWS["ucpa"].cite  # Utah gives no right to correction
    assert "portability" not in law.LAWS["pipeda"].cite
    assert "notify_recipients" not in law.LAWS["vcdpa"].cite
    assert law.LAWS["ccpa"].grounds.get("public_health") is None
    for item in law.LAWS.values():
        assert set(item.grounds) <= set(ErasureGround.values)


def test_the_appeal_goes_to_our_contact_address(settings):
    settings.DSR_CONTACT_EMAIL = "privacy@example.org"
    applied = law.applied("vcdpa", "US", "VA")
    assert "privacy@example.org" in applied.complaint and "Va. Code §59.1-577(C)" in applied.complaint
    assert law.applied("gdpr", "PT").complaint.endswith("(GDPR Art. 77):")
    with pytest.raises(ValueError, match="no law table"):
        law.law_for("nope")
