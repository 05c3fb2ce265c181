"""What every HTTP face shares (the public pages, the API, the desk): the error shape, the
JSON parser, body limits, rate limits and error pages. Imports only the core.
"""
