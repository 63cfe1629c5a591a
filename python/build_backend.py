"""A PEP 517 build backend for the pure-Python tkc package, with no dependencies.

`pip install ./python` needs no compiler and no network: pip's isolated build environment
installs nothing (pyproject.toml requires nothing) and this file writes the wheel with the
standard library. The version is the project's, read from the top-level CMakeLists.txt (one
source); pip builds in place, so ../CMakeLists.txt is there. No sdist: install from the tree.
"""

import base64
import hashlib
import os
import re
import zipfile

NAME = "tkc"
HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE_DIR = os.path.join(HERE, NAME)
SUMMARY = "Run bundles compiled by tkc (verified MoE kernels) through libtkrt"
REQUIRES = ["numpy"]


def _version():
    cmake = os.path.join(HERE, "..", "CMakeLists.txt")
    with open(cmake, encoding="utf-8") as f:
        match = re.search(r"project\(tkc VERSION ([0-9.]+)", f.read())
    if not match:
        raise RuntimeError(f"{cmake}: no `project(tkc VERSION x.y.z ...)` line")
    return match.group(1)


def _metadata(version):
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {NAME}",
        f"Version: {version}",
        f"Summary: {SUMMARY}",
        "Requires-Python: >=3.9",
    ] + [f"Requires-Dist: {r}" for r in REQUIRES]
    return "\n".join(lines) + "\n"


def _wheel_file():
    lines = ["Wheel-Version: 1.0", "Generator: tkc build_backend", "Root-Is-Purelib: true",
             "Tag: py3-none-any"]
    return "\n".join(lines) + "\n"


def _package_files():
    """(archive name, path) of every .py file of the package, sorted."""
    found = []
    for root, dirs, files in os.walk(PACKAGE_DIR):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(root, name)
                found.append((os.path.relpath(path, HERE).replace(os.sep, "/"), path))
    return found


def _record_line(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def _write_dist_info(directory, version):
    dist_info = os.path.join(directory, f"{NAME}-{version}.dist-info")
    os.makedirs(dist_info, exist_ok=True)
    with open(os.path.join(dist_info, "METADATA"), "w", encoding="utf-8") as f:
        f.write(_metadata(version))
    return os.path.basename(dist_info)


# ---- PEP 517 hooks ------------------------------------------------------------------------


def get_requires_for_build_wheel(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    return _write_dist_info(metadata_directory, _version())


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    version = _version()
    dist_info = f"{NAME}-{version}.dist-info"
    wheel_name = f"{NAME}-{version}-py3-none-any.whl"
    entries = [(name, open(path, "rb").read()) for name, path in _package_files()]
    entries += [
        (f"{dist_info}/METADATA", _metadata(version).encode()),
        (f"{dist_info}/WHEEL", _wheel_file().encode()),
    ]
    record = [_record_line(name, data) for name, data in entries] + [f"{dist_info}/RECORD,,"]
    entries.append((f"{dist_info}/RECORD", ("\n".join(record) + "\n").encode()))
    with zipfile.ZipFile(os.path.join(wheel_directory, wheel_name), "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries:
            z.writestr(name, data)
    return wheel_name
