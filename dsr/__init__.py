"""The data-subject rights request handler: Django project package and core app."""

from dsr.celery import app as celery_app

__all__ = ("celery_app",)
