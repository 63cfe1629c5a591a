"""libtkrt's public C API (runtime/include/tk/runtime.h, tk/status.h) through ctypes.

Finding the library, in order (the first that names a file wins; docs/python.md):
  1. $TKC_LIBTKRT, an explicit path: used alone, an error if it does not load;
  2. beside this package (a copy shipped inside it), then the lib/ directory of the prefix the
     package is installed under (<prefix>/lib/python3.X/site-packages/tkc -> <prefix>/lib),
     then sys.prefix/lib;
  3. the system loader (LD_LIBRARY_PATH, the ld.so cache).
The library is loaded on first use, so `import tkc` works without it (tkc.compile needs only
the tkc executable). Every bound function has argtypes and restype, copied from the headers.
"""

import ctypes
import os
import sys
import threading

from ._errors import NotFoundError, StatusError

SONAME = "libtkrt.so.0"

# tk_status is an opaque pointer: None (NULL) means OK, anything else is owned by the caller.
_status = ctypes.c_void_p
_handle = ctypes.c_void_p  # tk_bundle *, tk_weights *, tk_session *
_floats = ctypes.POINTER(ctypes.c_float)


class BundleInfo(ctypes.Structure):
    """tk_bundle_info (tk/runtime.h): a borrowed view, valid while the bundle is open."""

    _fields_ = [
        ("dir", ctypes.c_char_p),
        ("fingerprint", ctypes.c_char_p),
        ("arch_json", ctypes.c_char_p),
        ("in_dim", ctypes.c_int32),
        ("out_dim", ctypes.c_int32),
        ("n_experts", ctypes.c_int32),
        ("top_k", ctypes.c_int32),
        ("max_batch", ctypes.c_int64),
    ]


class WeightsOptions(ctypes.Structure):
    """tk_weights_options (tk/runtime.h)."""

    _fields_ = [("allow_nonfinite", ctypes.c_bool)]


class SessionOptions(ctypes.Structure):
    """tk_session_options (tk/runtime.h); `device` is the tk_device enum."""

    _fields_ = [
        ("device", ctypes.c_int),
        ("threads", ctypes.c_int),
        ("quiet", ctypes.c_bool),
        ("max_rows", ctypes.c_int64),
        ("cpu", ctypes.c_char_p),
    ]


# name: (restype, argtypes), in the order of tk/status.h and tk/runtime.h.
_PROTOTYPES = {
    "tk_status_code_of": (ctypes.c_int, [_status]),
    "tk_status_message": (ctypes.c_char_p, [_status]),
    "tk_status_location": (ctypes.c_char_p, [_status]),
    "tk_status_code_name": (ctypes.c_char_p, [ctypes.c_int]),
    "tk_status_free": (None, [_status]),
    "tk_device_parse": (_status, [ctypes.c_char_p, ctypes.POINTER(ctypes.c_int)]),
    "tk_bundle_open": (_status, [ctypes.c_char_p, ctypes.POINTER(_handle)]),
    "tk_bundle_close": (None, [_handle]),
    "tk_bundle_get_info": (ctypes.POINTER(BundleInfo), [_handle]),
    "tk_weights_open": (
        _status,
        [_handle, ctypes.c_char_p, ctypes.POINTER(WeightsOptions), ctypes.POINTER(_handle)],
    ),
    "tk_weights_close": (None, [_handle]),
    "tk_session_options_default": (None, [ctypes.POINTER(SessionOptions)]),
    "tk_session_create": (
        _status,
        [_handle, _handle, ctypes.POINTER(SessionOptions), ctypes.POINTER(_handle)],
    ),
    "tk_session_free": (None, [_handle]),
    "tk_session_backend": (ctypes.c_char_p, [_handle]),
    "tk_session_device": (ctypes.c_char_p, [_handle]),
    "tk_session_forward": (_status, [_handle, _floats, ctypes.c_int64, _floats, _floats]),
}

_lock = threading.Lock()
_lib = None
_lib_path = None


def _candidates():
    """The paths tried before the system loader, in order (duplicates dropped)."""
    package_dir = os.path.dirname(os.path.abspath(__file__))
    # <prefix>/lib/python3.X/site-packages/tkc: three levels up is <prefix>/lib.
    install_lib = os.path.normpath(os.path.join(package_dir, "..", "..", ".."))
    dirs = dict.fromkeys([package_dir, install_lib, os.path.join(sys.prefix, "lib")])
    return [os.path.join(d, SONAME) for d in dirs]


def _open(path):
    lib = ctypes.CDLL(path)
    for name, (restype, argtypes) in _PROTOTYPES.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    return lib


def _load():
    explicit = os.environ.get("TKC_LIBTKRT")
    if explicit:
        try:
            return _open(explicit), os.path.abspath(explicit)
        except OSError as e:
            raise NotFoundError(
                f"cannot load libtkrt from $TKC_LIBTKRT={explicit}: {e}", [explicit]
            ) from None
    tried = []
    for path in _candidates():
        if os.path.exists(path):
            return _open(path), path  # a file that exists but does not load is an error
        tried.append(f"{path} (no such file)")
    try:
        lib = _open(SONAME)
    except OSError as e:
        tried.append(f"{SONAME} via the system loader ({e})")
        raise NotFoundError(
            "cannot find libtkrt (install tkc with `cmake --install`, then set TKC_LIBTKRT "
            "to <prefix>/lib/" + SONAME + " or add <prefix>/lib to LD_LIBRARY_PATH); tried: "
            + "; ".join(tried),
            tried,
        ) from None
    return lib, _loaded_path(lib)


def _loaded_path(lib):
    """The file the system loader picked for `lib` (dladdr of one of its functions)."""

    class DlInfo(ctypes.Structure):
        _fields_ = [
            ("dli_fname", ctypes.c_char_p),
            ("dli_fbase", ctypes.c_void_p),
            ("dli_sname", ctypes.c_char_p),
            ("dli_saddr", ctypes.c_void_p),
        ]

    libc = ctypes.CDLL(None)
    libc.dladdr.restype = ctypes.c_int
    libc.dladdr.argtypes = [ctypes.c_void_p, ctypes.POINTER(DlInfo)]
    info = DlInfo()
    address = ctypes.cast(lib.tk_status_free, ctypes.c_void_p)
    if not libc.dladdr(address, ctypes.byref(info)) or not info.dli_fname:
        return None
    return os.path.realpath(os.fsdecode(info.dli_fname))


def lib():
    """The loaded libtkrt (loaded on the first call); raises NotFoundError."""
    global _lib, _lib_path
    with _lock:
        if _lib is None:
            _lib, _lib_path = _load()
        return _lib


def library_path():
    """The path of the loaded libtkrt (loading it if needed); None if unknown."""
    lib()
    return _lib_path


def check(status):
    """Raises StatusError for a non-NULL tk_status, which it frees."""
    if not status:
        return
    L = lib()
    code = L.tk_status_code_of(status)
    message = L.tk_status_message(status).decode("utf-8", "replace")
    location = L.tk_status_location(status).decode("utf-8", "replace")
    code_name = L.tk_status_code_name(code).decode("ascii", "replace")
    L.tk_status_free(status)
    raise StatusError(message, code, code_name, location)
