"""tkc.compile: runs the tkc executable (`tkc compile ARCH.json -o DIR [options]`).

The executable is $TKC_EXE when set, else `tkc` in the bin/ directory of the prefix whose
lib/ holds the libtkrt this package loads (<prefix>/lib/../bin, which is also build/bin in a
build tree), else `tkc` on PATH.
"""

import os
import shutil
import subprocess

from . import _capi
from ._errors import CompileError, NotFoundError


def find_tkc():
    """The path of the tkc executable; raises NotFoundError naming where it looked."""
    explicit = os.environ.get("TKC_EXE")
    if explicit:
        if os.access(explicit, os.X_OK):
            return explicit
        raise NotFoundError(f"$TKC_EXE={explicit} is not an executable file", [explicit])
    tried = []
    try:
        lib_path = _capi.library_path()
    except NotFoundError as e:
        tried.append(f"beside libtkrt ({e})")
        lib_path = None
    if lib_path:
        beside = os.path.normpath(os.path.join(os.path.dirname(lib_path), "..", "bin", "tkc"))
        if os.access(beside, os.X_OK):
            return beside
        tried.append(f"{beside} (not an executable file)")
    on_path = shutil.which("tkc")
    if on_path:
        return on_path
    tried.append("tkc on PATH (not found)")
    raise NotFoundError(
        "cannot find the tkc executable (set TKC_EXE or put <prefix>/bin on PATH); tried: "
        + "; ".join(tried),
        tried,
    )


def _flag_arguments(options):
    """max_batch=64 -> --max-batch 64; quiet=True -> --quiet; targets=[a, b] -> --targets a,b."""
    args = []
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        if value is True:
            args.append(flag)
        elif value is False or value is None:
            continue
        elif isinstance(value, (list, tuple)):
            args += [flag, ",".join(str(v) for v in value)]
        else:
            args += [flag, str(value)]
    return args


def compile(arch, out, **options):
    """Compiles ARCH.json into the bundle directory `out` and returns `out`.

    Each keyword is a flag of `tkc compile` (docs/user-guide.md): targets=["x86_64"],
    cpu="native", max_batch=256, dispatch="sparse", offload_arch=[...], cuda_arch=[...],
    quiet=True, ...
    Raises CompileError carrying tkc's exit code and stderr when the compile fails.
    """
    command = [find_tkc(), "compile", os.fspath(arch), "-o", os.fspath(out)]
    command += _flag_arguments(options)
    done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise CompileError(done.returncode, done.stderr, command)
    return out
