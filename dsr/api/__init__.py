"""The HTTP API under /api/v1/: the public API, the jobs API for connected systems, and the
integration API. Thin views over intake, the engine and the results.
"""
