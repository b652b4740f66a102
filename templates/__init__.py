"""Project templates of `lode init --template NAME`: one folder each, copied as it is.

Shipped as package data of the `lode` distribution (import name `lode_templates`), so an
installed lode has them; this file only makes the folder a package `importlib.resources`
can find.
"""
