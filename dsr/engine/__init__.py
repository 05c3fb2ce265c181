"""The engine: one job per (request, system, action), fanned out to Celery, claimed under a
lease, retried, reconciled when a worker or a message is lost; and the deadline watch.

Task modules stay thin (``dsr.engine.tasks``); the work is in the services beside them.
"""
