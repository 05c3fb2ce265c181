"""Reading templates: the built-in ones load, a mistake is reported with its file and line,
and the catalogue finds templates in folders and plugins without letting them shadow
a built-in one."""

from __future__ import annotations

import textwrap
from importlib.metadata import EntryPoint

import pytest

from connectors import registry
from connectors.base import ConnectorError
from connectors.saas import catalogue
from connectors.saas.connector import SaasConnector
from connectors.saas.template import TemplateError, parse_template

GOOD = """\
name: tiny
title: Tiny
docs: [https://example.com/api]
base_url: "https://{{ config.region }}.tiny.example"
settings:
  region: {description: Region}
secrets:
  key: {description: API key}
auth: {kind: bearer, token: "{{ secrets.key }}"}
categories:
  people: People
check:
  - {method: GET, path: /me}
find:
  - name: person
    category: people
    request: {method: GET, path: /people, query: {email: "{{ subject.email }}"}}
    records: data
"""


def problem(text: str, filename: str = "tiny.yaml") -> str:
    with pytest.raises(TemplateError) as bad:
        parse_template(textwrap.dedent(text), filename, name="tiny")
    return bad.value.message


def test_every_built_in_template_loads():
    listed = catalogue.available()

    assert {
        "stripe", "hubspot", "mailchimp", "zendesk", "segment", "intercom", "sendgrid",
        "klaviyo", "braze", "shopify", "salesforce", "auth0",
    } <= set(listed)
    assert {name: info.error for name, info in listed.items()} == dict.fromkeys(listed)
    assert all(info.origin == "built-in" and info.docs for info in listed.values())
    assert listed["segment"].actions == ("erase",)
    assert listed["stripe"].actions == ("erase", "export", "locate", "rectify")
    assert listed["sendgrid"].actions == ("erase", "export", "locate")


def test_the_saas_connector_is_a_built_in_connector():
    assert registry.load("saas") is SaasConnector


def test_a_schema_error_names_the_file_and_line():
    text = GOOD + "    paging: {kind: cursors, param: after, next: next}\n"

    assert problem(text) == (
        "tiny.yaml, line 19: find.0.paging.kind: 'cursors' is not one of "
        "['cursor', 'link_header', 'next_url', 'offset', 'page']"
    )


def test_an_unknown_key_is_reported_on_its_line():
    message = problem(GOOD.replace("    records: data\n", "    records: data\n    recrods: x\n"))

    assert message.startswith("tiny.yaml, line 19: find.0: Additional properties")
    assert "'recrods' was unexpected" in message


def test_several_mistakes_are_all_reported_in_line_order():
    text = GOOD.replace("method: GET, path: /me", "method: FETCH, path: /me").replace(
        "category: people", "category: 7"
    )

    lines = problem(text).splitlines()

    assert [line.split(":")[0] for line in lines] == ["tiny.yaml, line 13", "tiny.yaml, line 16"]


def test_a_yaml_syntax_error_names_its_line():
    assert problem(GOOD + "  - {unclosed: [\n").startswith(
        "tiny.yaml, line 2"
    )  # where YAML notices


def test_a_placeholder_reading_an_undeclared_setting_names_its_line():
    message = problem(GOOD.replace("{{ subject.email }}", "{{ config.tenant }}"))

    assert message == ("tiny.yaml, line 17: {{ config.tenant }}: 'tenant' is not in settings")


def test_an_unknown_filter_or_root_is_refused_with_its_line():
    assert "line 17: unknown filter 'shout'" in problem(
        GOOD.replace("{{ subject.email }}", "{{ subject.email | shout }}")
    )
    assert (
        "line 17: {{ secrets.key }} reads 'secrets'; here it may read config, subject"
        in problem(GOOD.replace("{{ subject.email }}", "{{ secrets.key }}"))
    )


def test_a_step_may_only_read_the_steps_above_it():
    text = GOOD + (
        "  - name: order\n"
        "    for_each: invoice\n"
        "    category: people\n"
        '    request: {method: GET, path: "/orders/{{ person.id }}"}\n'
    )

    message = problem(text)

    assert "line 20: for_each 'invoice' is not an earlier find step" in message
    assert "line 22: {{ person.id }} reads 'person'" in message


def test_the_name_must_match_the_file():
    with pytest.raises(TemplateError) as bad:
        parse_template(GOOD, "other.yaml", name="other")

    assert "other.yaml, line 1: name 'tiny' must match the file name 'other'" in bad.value.message


def test_a_folder_template_is_found_and_cannot_shadow_a_built_in_one(tmp_path):
    (tmp_path / "tiny.yaml").write_text(GOOD)
    (tmp_path / "stripe.yaml").write_text(GOOD.replace("name: tiny", "name: stripe"))

    listed = catalogue.available(extra_dirs=[tmp_path])

    assert listed["tiny"].origin == f"folder {tmp_path}" and listed["tiny"].title == "Tiny"
    assert listed["stripe"].origin == "built-in" and listed["stripe"].title == "Stripe"
    assert catalogue.load("tiny", extra_dirs=[tmp_path]).base_url.endswith(".tiny.example")


def test_plugins_name_a_folder_or_a_package_of_templates(tmp_path, monkeypatch):
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "tiny.yaml").write_text(GOOD)
    package = tmp_path / "acme_dsr_templates"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "other.yaml").write_text(GOOD.replace("name: tiny", "name: other"))
    (package / "hubspot.yaml").write_text(GOOD.replace("name: tiny", "name: hubspot"))
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins = [
        EntryPoint("folder", str(folder), catalogue.ENTRY_POINT_GROUP),
        EntryPoint("acme", "acme_dsr_templates", catalogue.ENTRY_POINT_GROUP),
        EntryPoint("broken", "no_such_module_here", catalogue.ENTRY_POINT_GROUP),
    ]
    monkeypatch.setattr(catalogue, "entry_points", lambda group: plugins)

    listed = catalogue.available()

    assert listed["tiny"].origin == "plugin folder"
    assert listed["other"].origin == "plugin acme"
    assert listed["hubspot"].origin == "built-in"


def test_a_broken_template_is_listed_with_its_error_and_refused_by_the_connector(
    tmp_path, monkeypatch
):
    (tmp_path / "tiny.yaml").write_text(GOOD.replace("kind: bearer", "kind: bearr"))
    monkeypatch.setenv("DSR_TEMPLATE_DIRS", str(tmp_path))

    assert "line 9: auth.kind" in catalogue.available(catalogue.env_dirs())["tiny"].error
    with pytest.raises(ConnectorError) as refused:
        SaasConnector(name="t", config={"template": "tiny", "region": "eu"}, secrets={"key": "k"})
    assert refused.value.permanent and "tiny.yaml, line 9" in refused.value.message


def test_a_system_names_a_known_template_and_gives_its_settings_and_secrets():
    with pytest.raises(
        ConnectorError, match="unknown SaaS template 'stripey'; available: .*stripe"
    ):
        SaasConnector(name="s", config={"template": "stripey"}, secrets={})
    with pytest.raises(
        ConnectorError, match="needs api_token, config.subdomain, config.agent_email"
    ):
        SaasConnector(name="z", config={"template": "zendesk"}, secrets={})
    with pytest.raises(ConnectorError, match="base_url must be an http"):
        SaasConnector(
            name="s", config={"template": "stripe", "base_url": "ftp://x"}, secrets={"api_key": "k"}
        )


def test_the_template_base_url_is_built_from_the_settings():
    connector = SaasConnector(
        name="z",
        config={"template": "zendesk", "subdomain": "acme", "agent_email": "a@acme.example"},
        secrets={"api_token": "t"},
    )

    assert connector.client.base_url == "https://acme.zendesk.com"
    connector.close()
