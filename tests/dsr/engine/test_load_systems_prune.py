"""``load_systems --prune``: the systems a file no longer names go, after a confirmation, and
never while they still have jobs to finish; one with jobs on record is disabled, not deleted."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from dsr.core.models import ConnectorJob, SystemConnection
from tests.factories import RequestFactory

pytestmark = pytest.mark.django_db

ONLY_PAPER = """
systems:
  - name: paper
    connector: manual
    actions: [erase]
    config: {instructions: Shred the paper file}
"""


@pytest.fixture
def three(tmp_path, capsys):
    path = tmp_path / "systems.yaml"
    path.write_text(ONLY_PAPER)
    call_command("load_systems", str(path))
    for name in ("old-crm", "old-billing"):
        SystemConnection.objects.create(name=name, connector="manual", actions=["erase"])
    capsys.readouterr()
    return str(path)


def job(system_name: str, status: str) -> ConnectorJob:
    request = RequestFactory(kind="erasure")
    return ConnectorJob.objects.create(request=request, system=SystemConnection.objects.get(name=system_name),
                                       action="erase", status=status, idempotency_key=f"{system_name}-{status}")


def test_prune_asks_first_and_does_nothing_unless_told_yes(three, monkeypatch, capsys):
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    with pytest.raises(CommandError, match="nothing changed: pruning was not confirmed"):
        call_command("load_systems", three, "--prune")
    assert SystemConnection.objects.count() == 3
    asked = []
    monkeypatch.setattr("builtins.input", lambda prompt: asked.append(prompt) or "y")
    call_command("load_systems", three, "--prune")
    assert asked == [f"Remove these systems, which {three} does not name: old-billing, old-crm? [y/N] "]
    assert list(SystemConnection.objects.values_list("name", flat=True)) == ["paper"]
    assert "removed: old-billing, old-crm" in capsys.readouterr().out


def test_a_pruned_system_with_finished_jobs_is_disabled_and_kept(three, capsys):
    job("old-crm", "succeeded")
    call_command("load_systems", three, "--prune", "--yes")
    out = capsys.readouterr().out
    assert "removed: old-billing" in out and "disabled (it has jobs on record, so it is kept): old-crm" in out
    kept = SystemConnection.objects.get(name="old-crm")
    assert kept.enabled is False and kept.jobs.count() == 1


def test_nothing_is_pruned_while_a_system_has_a_job_to_finish(three):
    job("old-billing", "waiting")
    with pytest.raises(CommandError, match="not pruning: old-billing still has jobs to finish"):
        call_command("load_systems", three, "--prune", "--yes")
    assert SystemConnection.objects.count() == 3 and SystemConnection.objects.filter(enabled=True).count() == 3


def test_without_prune_systems_missing_from_the_file_stay(three, capsys):
    call_command("load_systems", three)
    assert SystemConnection.objects.count() == 3 and "unchanged: paper" in capsys.readouterr().out
