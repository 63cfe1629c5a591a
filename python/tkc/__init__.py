"""tkc: run bundles compiled by tkc from Python, through libtkrt (docs/python.md).

    import numpy as np, tkc
    tkc.compile("models/nano.arch.json", "nano.bundle", targets=["x86_64"])
    with tkc.Session("nano.bundle", "nano.tkp1", device="cpu") as s:
        logits, router_weights = s.forward(np.zeros((4, 96), np.float32))
"""

from ._capi import library_path
from ._compile import compile, find_tkc
from ._errors import CompileError, Error, NotFoundError, StatusError
from ._session import Bundle, Session

__all__ = [
    "Bundle",
    "CompileError",
    "Error",
    "NotFoundError",
    "Session",
    "StatusError",
    "compile",
    "find_tkc",
    "library_path",
]
