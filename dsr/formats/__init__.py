"""Date formats that differ from Django's for a shipped language (FORMAT_MODULE_PATH)."""
