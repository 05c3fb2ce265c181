"""Results: the access bundle, closing a request, rectification decisions, erasure evidence,
the suppression list, retention, and the outcome emails to the person.
"""
