"""Connectors to the systems that hold a person's data.

This package never imports ``dsr`` models: a connector sees plain data and returns
plain data (DESIGN §2, §6). The interface lives in ``connectors.base``.
"""
