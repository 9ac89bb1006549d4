"""Collection rules for the docstring examples of the package."""

import importlib.util

# The HTTP server's modules need the serve extra (Starlette, uvicorn).
if importlib.util.find_spec("starlette") is None:
    collect_ignore = ["sklstm/serving/__init__.py", "sklstm/serving/_app.py"]


def pytest_ignore_collect(collection_path, config):
    """Leave conftest.py files out of --doctest-modules: they hold fixtures, no
    examples, and those of the test folders all have the module name
    "conftest", so importing one again as a module finds another."""
    if collection_path.name == "conftest.py":
        return True
    return None
