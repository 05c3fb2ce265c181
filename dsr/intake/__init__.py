"""Intake: the public pages and form, filing a request, and proving who the person is.

Its Celery tasks send the acknowledgement and the codes (``dsr.intake.tasks``).
"""
