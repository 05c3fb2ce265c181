"""Connectors that misbehave on purpose, for the engine's fault tests."""

from __future__ import annotations

from typing import ClassVar

from connectors.base import Action, ConnectorError, Deferred, LocateResult, Receipt
from connectors.memory import MemoryConnector


class FlakyConnector(MemoryConnector):
    """Fails ``fail_times`` calls (transient unless ``permanent``), then behaves like memory.

    With ``residual: true`` its erase reports success but leaves the records in place.
    """

    key = "flaky"
    calls: ClassVar[dict[str, int]] = {}

    def _maybe_fail(self) -> None:
        count = self.calls.get(self.name, 0) + 1
        self.calls[self.name] = count
        if count <= self.config.get("fail_times", 0):
            raise ConnectorError(f"{self.name} is unavailable (call {count})",
                                 permanent=self.config.get("permanent", False))

    def export(self, subject, *, job=None):
        self._maybe_fail()
        return super().export(subject, job=job)

    def erase(self, subject, *, job=None) -> Receipt:
        self._maybe_fail()
        if self.config.get("residual"):
            return Receipt(action=Action.ERASE, affected=0)
        return super().erase(subject, job=job)

    def locate(self, subject, *, job=None) -> LocateResult:
        return super().locate(subject, job=job)


class CrashingConnector(MemoryConnector):
    key = "crashing"

    def erase(self, subject, *, job=None) -> Receipt:
        raise ZeroDivisionError("a bug in a plugin")


class SlowConnector(MemoryConnector):
    """Takes ``sleep`` seconds to erase: long enough to kill the worker in the middle."""

    key = "slow"

    def erase(self, subject, *, job=None) -> Receipt:
        import time

        time.sleep(self.config.get("sleep", 5))
        return super().erase(subject, job=job)


class BatchingConnector(MemoryConnector):
    """Counts its batch calls, to show the engine gathers erase jobs into one."""

    key = "batching"
    batches: ClassVar[list[int]] = []

    def erase_many(self, subjects):
        subjects = list(subjects)
        self.batches.append(len(subjects))
        return {s.request_id: self.erase(s) for s in subjects if s.get("email") != self.config.get("forget")}


class PollingConnector(MemoryConnector):
    """Erases like a vendor whose deletion finishes later: started once, then polled.

    The first call starts the deletion and defers with its id; each later call finds it
    still running until ``checks`` calls have asked, then erases and returns the receipt.
    """

    key = "polling"
    started: ClassVar[list[str]] = []

    def erase(self, subject, *, job=None) -> Receipt:
        state = dict(job.state) if job else {}
        if not state:
            self.started.append(subject.request_id)
            raise Deferred("deletion d-1 started", poll_after=30, state={"deletion": "d-1", "checks": 0})
        if state["checks"] + 1 < self.config.get("checks", 2):
            raise Deferred("deletion d-1 running", poll_after=30, state={**state, "checks": state["checks"] + 1})
        return super().erase(subject, job=job)


class SlowHttpConnector(SlowConnector):
    """A slow system across the network: its jobs go to the HTTP class's queue."""

    key = "slow-http"
    queue_class = "http"
