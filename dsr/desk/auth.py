"""Desk access: a desk role and a verified second factor (session), or a personal API token."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from drf_spectacular.authentication import TokenScheme
from rest_framework import authentication, exceptions, permissions

from dsr.core.models import ApiToken
from dsr.core.roles import CAN_ACT, role_of
from dsr.web import ratelimit


def token_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def desk_page(*, act: bool = False) -> Callable:
    """Pages need a login with a verified second factor and a desk role; ``act`` excludes auditors."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated or not request.user.is_verified():
                return redirect_to_login(request.get_full_path())
            role = role_of(request.user)
            if role is None or (act and role not in CAN_ACT):
                raise PermissionDenied("Your desk role does not allow this.")
            request.desk_role = role
            return view(request, *args, **kwargs)

        return wrapped

    return decorate


class PersonalTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        header = request.headers.get("Authorization", "")
        if not header.startswith(f"{self.keyword} "):
            return None
        key = header[len(self.keyword) + 1 :].strip()
        token = ApiToken.objects.select_related("user").filter(key_hash=token_hash(key)).first()
        if token is None or not token.user.is_active:
            raise exceptions.AuthenticationFailed("Unknown or revoked API token.")
        ratelimit.check_token(request, "personal", str(token.pk))
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
        return token.user, token

    def authenticate_header(self, request) -> str:
        return self.keyword


class PersonalTokenScheme(TokenScheme):
    """The personal token in the OpenAPI document: ``Authorization: Token <key>``."""

    target_class = PersonalTokenAuthentication


class DeskRole(permissions.BasePermission):
    """Officers and administrators act; auditors only read. Sessions need the second factor."""

    message = "Your desk role does not allow this."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not user or not user.is_authenticated:
            raise exceptions.NotAuthenticated("Log in to the desk, or send 'Authorization: Token <key>'.")
        if request.auth is None and not user.is_verified():
            raise exceptions.NotAuthenticated("Verify your second factor (TOTP) first.")
        role = role_of(user)
        if role is None:
            return False
        return request.method in permissions.SAFE_METHODS or role in CAN_ACT
