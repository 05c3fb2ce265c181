"""A service account for the officer API: ``issue_api_token NAME --service-account --role …``
makes an account with no password and no authenticator, which reaches the API with its token
and its role, and can never log in to the desk or the admin."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from dsr.core.models import Note, Status, TOTPDevice
from tests.dsr.desk.users import issue_key, make_user
from tests.factories import RequestFactory

pytestmark = pytest.mark.django_db


def test_a_service_account_uses_the_api_with_its_role_and_nothing_else(api, client):
    key = issue_key("crm-sync", "--service-account", "--role", "officer")
    account = get_user_model().objects.get(username="crm-sync")
    assert not account.has_usable_password() and not account.is_staff
    assert not TOTPDevice.objects.filter(user=account).exists()
    request = RequestFactory(status=Status.VERIFIED)
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/desk/requests/").status_code == 200
    done = api.post(f"/api/v1/desk/requests/{request.reference}/note/", {"text": "synced"}, format="json")
    assert done.status_code == 200 and Note.objects.get().author == account
    # No way in through the pages: no password, no authenticator, not staff.
    for login in ("/desk/login/", "/admin/login/"):
        response = client.post(login, {"username": "crm-sync", "password": "", "otp_token": "123456"})
        assert response.status_code in (200, 429) and not response.wsgi_request.user.is_authenticated
    client.force_login(account)  # even a session, somehow had, is refused without the second factor
    assert client.get("/desk/").status_code == 302
    assert client.get("/admin/").status_code == 302


def test_a_read_only_service_account_reads_and_cannot_act(api):
    key = issue_key("reporting", "--service-account", "--role", "auditor")
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    request = RequestFactory(status=Status.VERIFIED)
    assert api.get(f"/api/v1/desk/requests/{request.pk}/audit/").status_code == 200
    assert api.post(f"/api/v1/desk/requests/{request.pk}/approve/", {}, format="json").status_code == 403


def test_a_service_account_is_never_offered_for_assignment(client, desk_login):
    issue_key("crm-sync", "--service-account", "--role", "officer")
    desk_login("officer", username="pat")
    request = RequestFactory(status=Status.VERIFIED)
    offered = [u.username for u in client.get(f"/desk/requests/{request.pk}/").context["officers"]]
    assert offered == ["pat"]


def test_the_command_refuses_what_would_not_be_a_service_account():
    make_user("pat", "officer")
    with pytest.raises(CommandError, match="is a person's account"):
        call_command("issue_api_token", "pat", "--service-account", "--role", "officer", stdout=io.StringIO())
    with pytest.raises(CommandError, match="needs --role"):
        call_command("issue_api_token", "bot", "--service-account", stdout=io.StringIO())
    with pytest.raises(CommandError, match="--role is for a service account"):
        call_command("issue_api_token", "pat", "--role", "auditor", stdout=io.StringIO())
    # Run again, it issues another token for the same account, and may change its role.
    first = issue_key("bot", "--service-account", "--role", "officer")
    second = issue_key("bot", "--service-account", "--role", "auditor")
    assert first != second and get_user_model().objects.get(username="bot").groups.get().name == "auditor"
