"""Fixtures of the public pages' tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def post_form(client, django_capture_on_commit_callbacks):
    """Post the request form as a browser does, running what it queues."""

    def post(data):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post("/", data)

    return post
