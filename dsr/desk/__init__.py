"""The officers' desk: the queue, a request on one page, every action, reports, the officer API,
the personal tokens, and the Django admin for configuration. The top layer: nothing imports it.
"""
