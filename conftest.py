"""Collection rules for the docstring examples of the package."""

import importlib.util

# The HTTP server's modules need the serve extra (Starlette, uvicorn).
if importlib.util.find_spec("starlette") is None:
    collect_ignore = ["sklstm/serving/__init__.py", "sklstm/serving/_app.py"]
