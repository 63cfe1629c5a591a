"""How the package finds libtkrt and tkc (docs/python.md), each case in a fresh interpreter."""

import os
import shutil
import subprocess
import sys

import pytest

from conftest import BUILD_DIR, SOURCE_DIR

PROBE = "import tkc; print(tkc.library_path()); print(tkc.find_tkc())"


def clean_env(**extra):
    """The environment without TKC_* and LD_LIBRARY_PATH, and PATH without the build's bin/."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("TKC_") and k not in ("LD_LIBRARY_PATH", "PYTHONPATH")}
    build_bin = os.path.realpath(os.path.join(BUILD_DIR, "bin"))
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if os.path.realpath(p) != build_bin)
    env.update(extra)
    return env


def probe(env, cwd):
    return subprocess.run([sys.executable, "-c", PROBE], env=env, cwd=cwd, capture_output=True,
                          text=True)


def test_explicit_path_that_does_not_load_is_an_error_naming_it(tmp_path):
    missing = str(tmp_path / "nowhere" / "libtkrt.so.0")
    env = clean_env(TKC_LIBTKRT=missing, PYTHONPATH=os.path.join(SOURCE_DIR, "python"))
    done = probe(env, tmp_path)
    assert done.returncode != 0
    assert "tkc._errors.NotFoundError" in done.stderr and f"$TKC_LIBTKRT={missing}" in done.stderr


def test_not_found_lists_where_it_looked(tmp_path):
    done = probe(clean_env(PYTHONPATH=os.path.join(SOURCE_DIR, "python")), tmp_path)
    if done.returncode == 0:
        pytest.skip(f"libtkrt is installed on this system ({done.stdout.split()[0]})")
    package_dir = os.path.join(SOURCE_DIR, "python", "tkc")
    assert "cannot find libtkrt" in done.stderr
    assert os.path.join(package_dir, "libtkrt.so.0") in done.stderr
    assert "system loader" in done.stderr and "TKC_LIBTKRT" in done.stderr


def test_system_loader_then_tkc_beside_the_library(tmp_path):
    lib_dir = os.path.join(BUILD_DIR, "lib")
    env = clean_env(LD_LIBRARY_PATH=lib_dir, PYTHONPATH=os.path.join(SOURCE_DIR, "python"))
    done = probe(env, tmp_path)
    assert done.returncode == 0, done.stderr
    library, tkc_exe = done.stdout.split()
    assert library == os.path.realpath(os.path.join(lib_dir, "libtkrt.so.0"))
    assert tkc_exe == os.path.join(BUILD_DIR, "bin", "tkc")  # <lib>/../bin: build/bin here


def make_venv(path):
    """A venv that sees the system's numpy (docs/python.md); skips the test without venv/pip."""
    done = subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(path)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot make a venv with pip (python3-venv missing?): {done.stderr.strip()}")
    return path / "bin" / "python"


def test_pip_install_into_a_venv_finds_the_library_in_its_lib(tmp_path):
    """`pip install ./python` offline (nothing to download to build it); the venv's lib/ is
    where the package looks after $TKC_LIBTKRT and its own directory."""
    python = make_venv(tmp_path / "venv")
    install = subprocess.run([str(python), "-m", "pip", "install", "--no-index", "--no-cache-dir",
                              os.path.join(SOURCE_DIR, "python")], capture_output=True, text=True,
                             env=clean_env(), cwd=tmp_path)
    assert install.returncode == 0, install.stdout + install.stderr
    lib = tmp_path / "venv" / "lib"
    shutil.copy(os.path.join(BUILD_DIR, "lib", "libtkrt.so.0"), lib)
    tkc_exe = tmp_path / "venv" / "bin" / "tkc"
    tkc_exe.write_text("#!/bin/sh\n")  # found, not run
    tkc_exe.chmod(0o755)
    done = subprocess.run([str(python), "-c", "import tkc; print(tkc.__file__); " + PROBE],
                          env=clean_env(), cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    package, library, found_tkc = done.stdout.split()
    assert package.startswith(str(lib)) and package.endswith(os.path.join("tkc", "__init__.py"))
    assert (library, found_tkc) == (str(lib / "libtkrt.so.0"), str(tkc_exe))
