"""Date and number formats where the project's differ from Django's for a language (FORMAT_MODULE_PATH).

Every other language uses Django's own locale formats: "5. Dezember 2026", "5 grudnia 2026".
"""
