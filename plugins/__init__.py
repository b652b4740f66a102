"""lode's own plugins (import name `lode_plugins`), one folder per kind.

Each imports only the public plugin API (`lode.plugins`), the store and format modules it
needs and `lode.errors`, and is registered by an entry point in pyproject.toml exactly as
a third party's plugin would be; the core never imports one by name.
"""
