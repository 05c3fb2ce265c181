"""factory-boy factories for the core app."""

from __future__ import annotations

import factory
from django.utils import timezone

from dsr.core import deadlines
from dsr.core.crypto import identifier_hash
from dsr.core.models import DataSubjectRequest, Status


class RequestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DataSubjectRequest

    kind = "access"
    regime = "gdpr"
    status = Status.AWAITING_VERIFICATION
    identifiers = factory.Sequence(lambda n: {"email": f"person{n}@example.com"})
    email_hash = factory.LazyAttribute(lambda o: identifier_hash("email", o.identifiers["email"]))
    country = "DE"
    received_at = factory.LazyFunction(timezone.now)
    clock_started_on = factory.LazyAttribute(lambda o: timezone.localdate(o.received_at))
    due_on = factory.LazyAttribute(lambda o: deadlines.due_date(o.regime, o.clock_started_on))
