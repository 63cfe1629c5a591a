"""Bundle and Session: tk_bundle, tk_weights and tk_session (tk/runtime.h) as Python objects.

Ownership follows the C API: a session borrows its bundle, so a Bundle closed while sessions
still use it is released when the last of them closes. A Session owns the weights it opens.
Every object is released by close(), by leaving its `with` block, or when it is collected.
A session runs one forward at a time (a lock: ctypes releases the GIL during the call).
"""

import ctypes
import os
import threading

import numpy as np

from . import _capi


def _path_bytes(path):
    return os.fsencode(os.fspath(path))


def _closed_error(what):
    return ValueError(f"operation on a closed tkc.{what}")


class _Closable:
    """`with` and garbage collection both end in the subclass's close()."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()


class Bundle(_Closable):
    """A compiled model directory (`tkc compile ARCH.json -o DIR`), checked on open."""

    def __init__(self, path):
        self._handle = None
        self._borrowers = 0
        self._closing = False
        L = _capi.lib()
        handle = _capi._handle()
        _capi.check(L.tk_bundle_open(_path_bytes(path), ctypes.byref(handle)))
        self._handle = handle.value
        info = L.tk_bundle_get_info(self._handle).contents
        self.path = os.fsdecode(info.dir)
        self.fingerprint = info.fingerprint.decode("ascii")
        self.arch_json = info.arch_json.decode("utf-8")
        self.in_dim = info.in_dim
        self.out_dim = info.out_dim
        self.n_experts = info.n_experts
        self.top_k = info.top_k
        self.max_batch = info.max_batch

    def __repr__(self):
        state = "closed" if self._closing else f"in={self.in_dim} out={self.out_dim}"
        return f"<tkc.Bundle {self.path!r} {self.fingerprint} {state}>"

    def _borrow(self):
        if self._closing:
            raise _closed_error("Bundle")
        self._borrowers += 1
        return self._handle

    def _give_back(self):
        self._borrowers -= 1
        self._release_if_unused()

    def _release_if_unused(self):
        if self._closing and self._borrowers == 0 and self._handle:
            _capi.lib().tk_bundle_close(self._handle)
            self._handle = None

    def close(self):
        """Closes the bundle now, or when the last session using it closes."""
        self._closing = True
        self._release_if_unused()


class Session(_Closable):
    """A bundle, a checkpoint validated against it, and a backend ready to run forward passes.

    bundle      a tkc.Bundle, or the path of a bundle directory (opened and owned here)
    checkpoint  the path of a checkpoint.tkp1
    device      "auto" (a GPU if one answers, else cpu), "cpu", "hip" or "cuda"
    threads     CPU worker threads; 0 = all online CPUs
    quiet       suppress the runtime's one stderr line about device auto-selection
    max_rows    rows per launch (0 = the runtime's default); answers do not depend on it
    cpu         the bundle's CPU level to run on the cpu backend ("x86-64-v3"); None = the
                highest level this CPU supports
    allow_nonfinite  accept NaN/Inf weights in the checkpoint
    """

    def __init__(
        self,
        bundle,
        checkpoint,
        device="auto",
        threads=0,
        *,
        quiet=False,
        max_rows=0,
        cpu=None,
        allow_nonfinite=False,
    ):
        self._session = self._weights = self._bundle = None
        self._lock = threading.Lock()
        L = _capi.lib()
        options = _capi.SessionOptions()
        L.tk_session_options_default(ctypes.byref(options))
        device_value = ctypes.c_int()
        _capi.check(L.tk_device_parse(str(device).encode(), ctypes.byref(device_value)))
        options.device, options.threads = device_value.value, threads
        options.quiet, options.max_rows = quiet, max_rows
        self._cpu = None if cpu is None else str(cpu).encode()  # kept alive for the call
        options.cpu = self._cpu
        owns_bundle = not isinstance(bundle, Bundle)
        bundle = Bundle(bundle) if owns_bundle else bundle
        bundle_handle = bundle._borrow()
        self._bundle, self._owns_bundle = bundle, owns_bundle
        weights = _capi._handle()
        weights_options = _capi.WeightsOptions(allow_nonfinite=allow_nonfinite)
        try:
            _capi.check(
                L.tk_weights_open(
                    bundle_handle,
                    _path_bytes(checkpoint),
                    ctypes.byref(weights_options),
                    ctypes.byref(weights),
                )
            )
            self._weights = weights.value
            session = _capi._handle()
            _capi.check(
                L.tk_session_create(
                    bundle_handle, self._weights, ctypes.byref(options), ctypes.byref(session)
                )
            )
            self._session = session.value
        except BaseException:
            self.close()
            raise
        self.backend = L.tk_session_backend(self._session).decode()
        self.device = L.tk_session_device(self._session).decode()

    @property
    def bundle(self):
        return self._bundle

    def __repr__(self):
        if not self._session:
            return "<tkc.Session closed>"
        return f"<tkc.Session {self._bundle.path!r} on {self.backend} ({self.device})>"

    def forward(self, x):
        """One forward pass: x is [B, in_dim] (or one row [in_dim]) of finite float32.

        Returns (logits [B, out_dim], router_weights [B, n_experts]) as new float32 arrays
        that the runtime fills in place ([B, 0] for a Dense model); a one-row x gives rows
        without the batch axis. A C-contiguous float32 x is passed to the runtime without a
        copy; anything else is converted first. ValueError for a wrong shape; StatusError
        (INVALID_ARGUMENT) for a non-finite input or router logits that overflow float32.
        """
        if not self._session:
            raise _closed_error("Session")
        info = self._bundle
        rows = self._rows(x, info.in_dim)
        rows = np.ascontiguousarray(rows, dtype=np.float32)  # no copy when it already is
        batch = rows.shape[0]
        logits = np.empty((batch, info.out_dim), dtype=np.float32)
        router_weights = np.empty((batch, info.n_experts), dtype=np.float32)
        floats = _capi._floats
        with self._lock:
            if not self._session:
                raise _closed_error("Session")
            _capi.check(
                _capi.lib().tk_session_forward(
                    self._session,
                    rows.ctypes.data_as(floats),
                    batch,
                    logits.ctypes.data_as(floats),
                    router_weights.ctypes.data_as(floats) if info.n_experts else None,
                )
            )
        if np.ndim(x) == 1:
            return logits[0], router_weights[0]
        return logits, router_weights

    @staticmethod
    def _rows(x, in_dim):
        """x as a 2-D array of rows of in_dim features (a view where possible)."""
        x = x if isinstance(x, np.ndarray) else np.asarray(x, dtype=np.float32)
        if x.ndim not in (1, 2):
            raise ValueError(f"x must be [B, {in_dim}] or [{in_dim}], found shape {x.shape}")
        if x.shape[-1] != in_dim:
            raise ValueError(
                f"x: expected {in_dim} features per row (the bundle's input_dim), "
                f"found {x.shape[-1]} (shape {x.shape})"
            )
        rows = x.reshape(1, in_dim) if x.ndim == 1 else x
        if rows.shape[0] == 0:
            raise ValueError("x: empty batch (at least one row is needed)")
        return rows

    def close(self):
        """Releases the session, its weights, and its bundle if it opened it."""
        lock = getattr(self, "_lock", None)
        if lock is None:  # __init__ failed before anything was made
            return
        with lock:
            L = _capi.lib() if (self._session or self._weights or self._bundle) else None
            if self._session:
                L.tk_session_free(self._session)
                self._session = None
            if self._weights:
                L.tk_weights_close(self._weights)
                self._weights = None
            if self._bundle is not None:
                bundle, self._bundle = self._bundle, None
                bundle._give_back()
                if self._owns_bundle:
                    bundle.close()
