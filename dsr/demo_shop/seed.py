"""Demo data: a small shop, the systems that reach it, and requests to watch run."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from dsr.demo_shop.mailchimp import LIST_ID, subscriber_hash
from dsr.demo_shop.models import AudienceMember, Customer, MarketingContact, Order, SupportTicket

PEOPLE = [
    ("C-1001", "ana.demo@example.org", "Ana Almeida", "12 Rua Nova, Lisboa", "+351 21 000 0001"),
    ("C-1002", "ben.demo@example.org", "Ben Brooks", "4 Harbour St, San Diego CA", "+1 619 000 0002"),
    ("C-1003", "chloe.demo@example.org", "Chloe Clark", "9 Mill Lane, Leeds", "+44 113 000 0003"),
    ("C-1004", "dan.demo@example.org", "Dan Duarte", "70 Av. Paulista, São Paulo", "+55 11 0000 0004"),
]

SHOP_SYSTEMS = [
    {
        "name": "shop-db",
        "connector": "django",
        "public_name": "Our web shop",
        "description": "The web shop's customer and order database",
        "purposes": ["selling and delivering orders", "accounting"],
        "data_categories": ["contact details", "order history"],
        "recipients": [{"name": "Parcel carrier (EU)", "notify": "email", "email": "privacy@parcel-carrier.example"}],
        "retention": "Orders: 6 years after the financial year (tax law); account: until closed",
        "source": "the person, when ordering",
        "automated_decisions": "None: no decision about you is made by automated means alone.",
        "country": "DE",
        "transfers": [],
        "config": {
            "models": [
                {
                    "model": "demo_shop.Customer",
                    "category": "customer",
                    "identifiers": {"email": "email", "customer_id": "customer_number"},
                    "erase": {"mode": "mask",
                              "fields": {"email": None, "name": None, "address": None, "phone": None}},
                    "rectify": ["name", "address", "phone"],
                },
                {
                    "model": "demo_shop.Order",
                    "category": "orders",
                    "via": {"field": "customer", "parent": "demo_shop.Customer"},
                    "erase": {"mode": "delete"},
                },
            ]
        },
    },
    {
        "name": "support-desk",
        "connector": "django",
        "public_name": "Customer support",
        "description": "Customer support tickets",
        "purposes": ["answering questions and complaints"],
        "data_categories": ["contact details", "messages"],
        "recipients": [],
        "retention": "2 years after the ticket is closed",
        "source": "the person",
        "automated_decisions": "None: no decision about you is made by automated means alone.",
        "country": "DE",
        "transfers": [],
        "config": {
            "models": [
                {
                    "model": "demo_shop.SupportTicket",
                    "category": "tickets",
                    "identifiers": {"email": "email"},
                    "erase": {"mode": "delete"},
                }
            ]
        },
    },
]


def marketing_system() -> dict:
    from django.conf import settings

    return {
        "name": "marketing",
        "connector": "webhook",
        "actions": ["locate", "export", "erase"],  # it holds only an address: nothing to correct
        "public_name": "Our newsletter",
        "description": "The newsletter platform, run for us by a vendor",
        "purposes": ["sending the newsletter the person subscribed to"],
        "data_categories": ["email address", "consent record"],
        "recipients": [{"name": "Newsletter vendor (processor, EU)", "notify": "manual"}],
        "retention": "until the person unsubscribes",
        "source": "the person, at sign-up",
        "automated_decisions": "None: no decision about you is made by automated means alone.",
        "country": "IE",
        "transfers": [{"country": "US", "safeguard": "scc", "recipient": "the vendor's support team"}],
        "config": {
            "url": f"{settings.DSR_PUBLIC_URL}/demo/marketing-webhook/",
            "send_identifiers": ["email"],
            "timeout": 5,
        },
        "secrets": {"signing_secret": settings.DSR_DEMO_WEBHOOK_SECRET},
    }


def newsletter_system() -> dict:
    """The newsletter audience at a SaaS vendor, reached through the ``mailchimp`` template.

    The vendor is played by the demo itself (``dsr/demo_shop/mailchimp.py``), so
    ``base_url`` points at it; for a real Mailchimp account leave ``base_url`` out and
    give the account's data centre (``dc``) and audience (``list_id``).
    """
    from django.conf import settings

    return {
        "name": "newsletter",
        "connector": "saas",
        "description": "Newsletter audience at Mailchimp (the demo plays Mailchimp's API)",
        "purposes": ["sending the newsletter the person subscribed to"],
        "data_categories": ["email address", "name", "tags", "notes by our staff"],
        "recipients": [],
        "retention": "until the person unsubscribes",
        "source": "the person, at sign-up",
        "config": {
            "template": "mailchimp",
            "base_url": f"{settings.DSR_PUBLIC_URL}/demo/mailchimp/3.0",
            "dc": "us1",
            "list_id": LIST_ID,
        },
        "secrets": {"api_key": settings.DSR_DEMO_MAILCHIMP_KEY},
    }


def seed_shop() -> None:
    for number, email, name, address, phone in PEOPLE:
        customer = Customer.objects.create(
            customer_number=number, email=email, name=name, address=address, phone=phone
        )
        for i in range(3):
            Order.objects.create(
                customer=customer,
                placed_on=date(2026, 3 + i, 10 + i),
                total=Decimal("19.90") * (i + 1),
                items=f"{i + 1} × demo item",
            )
        SupportTicket.objects.create(
            email=email, subject="Where is my parcel?", body=f"Hello, this is {name}.", opened_on=date(2026, 6, 1)
        )
        MarketingContact.objects.create(email=email, consented_on=date(2025, 12, 1))
        first, _, last = name.partition(" ")
        AudienceMember.objects.create(
            list_id=LIST_ID, subscriber_hash=subscriber_hash(email), email=email, first_name=first,
            last_name=last, signed_up_at=datetime(2025, 12, 1, 9, 30, tzinfo=UTC),
            tags=["newsletter", "spring-sale"],
            notes=[{"note": f"{first} asked for the Portuguese edition.", "created_at": "2026-02-03T10:00:00+00:00"}]
            if number == "C-1001" else [],
        )
