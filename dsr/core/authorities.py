"""Who a person can complain to, by regime and by place: one table of data.

A place is an ISO 3166 code: a country (``PT``) or a subdivision (``US-CA``, ``CA-QC``).
``"*"`` is the regime's authority wherever the person lives, used when no entry names
their place. Names are the authorities' own (with the English in brackets where it
helps); each has the web address where a complaint starts or is explained.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Authority:
    name: str
    url: str


def _one(name: str, url: str) -> tuple[Authority, ...]:
    return (Authority(name, url),)


# GDPR Art. 77: a complaint may go to the authority of the EU or EEA country where the
# person lives or works, or where the breach took place. Germany: the Federal Commissioner
# takes complaints and passes those about companies to the authority of the Land.
EEA_AUTHORITIES: dict[str, tuple[Authority, ...]] = {
    "AT": _one("Österreichische Datenschutzbehörde (Austrian Data Protection Authority)", "https://www.dsb.gv.at"),
    "BE": _one("Autorité de protection des données / Gegevensbeschermingsautoriteit (Belgian Data Protection Authority)",
               "https://www.dataprotectionauthority.be"),
    "BG": _one("Commission for Personal Data Protection (Bulgaria)", "https://www.cpdp.bg"),
    "HR": _one("Agencija za zaštitu osobnih podataka (Croatian Personal Data Protection Agency, AZOP)", "https://azop.hr"),
    "CY": _one("Commissioner for Personal Data Protection (Cyprus)", "https://www.dataprotection.gov.cy"),
    "CZ": _one("Úřad pro ochranu osobních údajů (Czech Office for Personal Data Protection)", "https://uoou.gov.cz"),
    "DK": _one("Datatilsynet (Danish Data Protection Agency)", "https://www.datatilsynet.dk"),
    "EE": _one("Andmekaitse Inspektsioon (Estonian Data Protection Inspectorate)", "https://www.aki.ee"),
    "FI": _one("Tietosuojavaltuutetun toimisto (Office of the Data Protection Ombudsman, Finland)", "https://tietosuoja.fi"),
    "FR": _one("Commission nationale de l'informatique et des libertés (CNIL)", "https://www.cnil.fr"),
    "DE": _one("Der Bundesbeauftragte für den Datenschutz und die Informationsfreiheit (BfDI, Germany), "
               "or the data protection authority of your Land", "https://www.bfdi.bund.de"),
    "GR": _one("Hellenic Data Protection Authority", "https://www.dpa.gr"),
    "HU": _one("Nemzeti Adatvédelmi és Információszabadság Hatóság (NAIH, Hungary)", "https://naih.hu"),
    "IE": _one("Data Protection Commission (Ireland)", "https://www.dataprotection.ie"),
    "IT": _one("Garante per la protezione dei dati personali (Italy)", "https://www.garanteprivacy.it"),
    "LV": _one("Datu valsts inspekcija (Data State Inspectorate, Latvia)", "https://www.dvi.gov.lv"),
    "LT": _one("Valstybinė duomenų apsaugos inspekcija (State Data Protection Inspectorate, Lithuania)",
               "https://vdai.lrv.lt"),
    "LU": _one("Commission nationale pour la protection des données (CNPD, Luxembourg)", "https://cnpd.public.lu"),
    "MT": _one("Information and Data Protection Commissioner (Malta)", "https://idpc.org.mt"),
    "NL": _one("Autoriteit Persoonsgegevens (Dutch Data Protection Authority)", "https://www.autoriteitpersoonsgegevens.nl"),
    "PL": _one("Urząd Ochrony Danych Osobowych (Personal Data Protection Office, Poland)", "https://uodo.gov.pl"),
    "PT": _one("Comissão Nacional de Proteção de Dados (CNPD, Portugal)", "https://www.cnpd.pt"),
    "RO": _one("Autoritatea Națională de Supraveghere a Prelucrării Datelor cu Caracter Personal (ANSPDCP, Romania)",
               "https://www.dataprotection.ro"),
    "SK": _one("Úrad na ochranu osobných údajov Slovenskej republiky (Office for Personal Data Protection, Slovakia)",
               "https://dataprotection.gov.sk"),
    "SI": _one("Informacijski pooblaščenec (Information Commissioner, Slovenia)", "https://www.ip-rs.si"),
    "ES": _one("Agencia Española de Protección de Datos (AEPD, Spain)", "https://www.aepd.es"),
    "SE": _one("Integritetsskyddsmyndigheten (IMY, Sweden)", "https://www.imy.se"),
    "IS": _one("Persónuvernd (Icelandic Data Protection Authority)", "https://www.personuvernd.is"),
    "LI": _one("Datenschutzstelle Liechtenstein", "https://www.datenschutzstelle.li"),
    "NO": _one("Datatilsynet (Norwegian Data Protection Authority)", "https://www.datatilsynet.no"),
    # Someone outside the EEA under the GDPR: the authority where the breach took place.
    "*": _one("European Data Protection Board, which lists every EU and EEA data protection authority",
              "https://www.edpb.europa.eu/about-edpb/about-edpb/members_en"),
}

ICO = _one("Information Commissioner's Office (ICO)", "https://ico.org.uk/make-a-complaint/")

CALIFORNIA = (
    Authority("California Privacy Protection Agency (CPPA)", "https://cppa.ca.gov"),
    Authority("California Attorney General", "https://oag.ca.gov/privacy"),
)
VIRGINIA = _one("Office of the Attorney General of Virginia", "https://www.oag.state.va.us/consumer-protection")
COLORADO = _one("Colorado Attorney General", "https://coag.gov/file-complaint/")
CONNECTICUT = _one("Connecticut Attorney General", "https://portal.ct.gov/ag")
UTAH = _one("Utah Division of Consumer Protection", "https://dcp.utah.gov")

ANPD = _one("Autoridade Nacional de Proteção de Dados (ANPD, Brazil)", "https://www.gov.br/anpd")

OPC = Authority("Office of the Privacy Commissioner of Canada", "https://www.priv.gc.ca")
# Quebec, Alberta and British Columbia have their own private-sector laws and commissioners.
CANADA: dict[str, tuple[Authority, ...]] = {
    "CA-QC": (Authority("Commission d'accès à l'information du Québec", "https://www.cai.gouv.qc.ca"), OPC),
    "CA-AB": (Authority("Office of the Information and Privacy Commissioner of Alberta", "https://oipc.ab.ca"), OPC),
    "CA-BC": (Authority("Office of the Information and Privacy Commissioner for British Columbia",
                        "https://www.oipc.bc.ca"), OPC),
    "*": (OPC,),
}

#: regime → place → the authorities a person there can complain to.
AUTHORITIES: dict[str, dict[str, tuple[Authority, ...]]] = {
    "gdpr": EEA_AUTHORITIES,
    "uk_gdpr": {"*": ICO},
    "ccpa": {"*": CALIFORNIA},
    "vcdpa": {"*": VIRGINIA},
    "cpa": {"*": COLORADO},
    "ctdpa": {"*": CONNECTICUT},
    "ucpa": {"*": UTAH},
    "lgpd": {"*": ANPD},
    "pipeda": CANADA,
}


def authorities_for(regime: str, country: str = "", subdivision: str = "") -> tuple[Authority, ...]:
    """The person's own authority: their subdivision's, else their country's, else the regime's."""
    table = AUTHORITIES[regime]
    country = (country or "").upper()
    subdivision = (subdivision or "").upper().removeprefix(f"{country}-")
    for place in (f"{country}-{subdivision}" if subdivision else None, country, "*"):
        if place and place in table:
            return table[place]
    return ()
