"""The domain core: models, the lifecycle of a request, the audit chain, deadlines and regimes,
encryption and storage, roles, tokens, and the one way work is handed to Celery.

Every other part imports it; it imports no other part of ``dsr``.
"""
