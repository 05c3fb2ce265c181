"""Declarative HTTP API connectors: one connector, one YAML template per vendor.

``connector`` is the connector (registry key ``saas``); ``template`` reads and checks
a template; ``catalogue`` finds them; ``steps``, ``paging``, ``erase`` carry out what a
template says; ``client`` and ``auth`` speak HTTP to the vendor; ``expressions`` fills
in the ``{{ ... }}`` placeholders. docs/connectors.md explains how to write a template.
"""
