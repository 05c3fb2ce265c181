"""Who may do what at the desk: officer (works requests), administrator (also configures),
auditor (reads everything, changes nothing). Every desk role needs a verified second factor.
"""

from __future__ import annotations

import enum
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.contrib.auth.models import Group, Permission
from django.db.models import Q, QuerySet


class Role(enum.StrEnum):
    OFFICER = "officer"
    ADMINISTRATOR = "administrator"
    AUDITOR = "auditor"


CAN_ACT = frozenset({Role.OFFICER, Role.ADMINISTRATOR})


def role_of(user: Any) -> Role | None:
    """The user's desk role, the strongest if several; None for anyone else."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    if user.is_superuser:
        return Role.ADMINISTRATOR
    names = set(user.groups.values_list("name", flat=True)) if user.pk else set()
    for role in (Role.ADMINISTRATOR, Role.OFFICER, Role.AUDITOR):
        if role.value in names:
            return role
    return None


def acting_staff() -> QuerySet:
    """The people who work requests: active officers, administrators and superusers (a superuser
    counts as an administrator), never auditors nor service accounts. They can be assigned a
    request and are reminded of its deadlines."""
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | Q(groups__name__in=[role.value for role in CAN_ACT]))
        .exclude(password__startswith=UNUSABLE_PASSWORD_PREFIX)
        .distinct()
    )


def is_service_account(user: Any) -> bool:
    """An account for scripts: no usable password and no authenticator, so never a login."""
    from dsr.core.models import TOTPDevice

    return not user.has_usable_password() and not TOTPDevice.objects.filter(user=user).exists()


ADMIN_APPS = ("dsr", "auth", "demo_shop")


def grant(user: Any, role: Role, *, staff: bool = True) -> None:
    """Give ``user`` exactly this desk role. Administrators also configure, in the admin
    (``staff``); a service account is not staff: it has no business in the admin."""
    user.groups.remove(*Group.objects.filter(name__in=[r.value for r in Role]))
    group, created = Group.objects.get_or_create(name=role.value)
    if created and role == Role.ADMINISTRATOR:
        group.permissions.set(Permission.objects.filter(content_type__app_label__in=ADMIN_APPS))
    user.groups.add(group)
    if user.is_staff != staff:
        user.is_staff = staff
        user.save(update_fields=["is_staff"])
