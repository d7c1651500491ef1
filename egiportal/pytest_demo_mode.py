"""A pytest plugin (pyproject's addopts) loaded before Django reads its settings: the tests run in demo
mode, where the development SECRET_KEY may serve unless one is set; the processes they start inherit it."""

import os

os.environ.setdefault("DEMO", "true")
