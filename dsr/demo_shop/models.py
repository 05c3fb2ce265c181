"""The demo shop's own tables; the handler reaches them only through a connector."""

from __future__ import annotations

from django.db import models


class Customer(models.Model):
    customer_number = models.CharField(max_length=20, unique=True)
    email = models.EmailField(null=True, blank=True, db_index=True)
    name = models.CharField(max_length=200, null=True, blank=True)
    address = models.CharField(max_length=300, null=True, blank=True)
    phone = models.CharField(max_length=40, null=True, blank=True)

    def __str__(self) -> str:
        return self.customer_number


class Order(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="orders")
    placed_on = models.DateField()
    total = models.DecimalField(max_digits=10, decimal_places=2)
    items = models.CharField(max_length=300)


class SupportTicket(models.Model):
    email = models.EmailField(db_index=True)
    subject = models.CharField(max_length=200)
    body = models.TextField()
    opened_on = models.DateField()


class MarketingContact(models.Model):
    """The marketing platform's list (reached by signed webhook in the demo)."""

    email = models.EmailField(db_index=True)
    consented_on = models.DateField()


class AudienceMember(models.Model):
    """The newsletter vendor's audience in the demo: served as Mailchimp's API (``mailchimp.py``)."""

    list_id = models.CharField(max_length=20)
    subscriber_hash = models.CharField(max_length=32)  # MD5 of the lower-cased address
    email = models.EmailField()
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=20, default="subscribed")
    signed_up_at = models.DateTimeField()
    tags = models.JSONField(default=list)  # tag names
    notes = models.JSONField(default=list)  # {"note": text, "created_at": ISO time}

    class Meta:
        unique_together = [("list_id", "subscriber_hash")]
