"""Fixtures of the Python binding's tests (tests/python/run.sh, ctest label `python`).

The package under test is this repository's python/tkc. The tools and the library come from
the environment (TKC_LIBTKRT, TKC_EXE, TKRUN_EXE, set by run.sh) or default to build/.
The reference answer is tkrun's: the same bundle, checkpoint and rows through the C tool.
"""

import json
import os
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

SOURCE_DIR = os.path.abspath(
    os.environ.get("TK_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", "..")))
BUILD_DIR = os.path.abspath(os.environ.get("TK_BUILD_DIR", os.path.join(SOURCE_DIR, "build")))
os.environ.setdefault("TKC_LIBTKRT", os.path.join(BUILD_DIR, "lib", "libtkrt.so.0"))
os.environ.setdefault("TKC_EXE", os.path.join(BUILD_DIR, "bin", "tkc"))
TKRUN = os.environ.get("TKRUN_EXE", os.path.join(BUILD_DIR, "bin", "tkrun"))
sys.path.insert(0, os.path.join(SOURCE_DIR, "python"))

import tkc  # noqa: E402  (after the path above)


def arch_path(model):
    return os.path.join(SOURCE_DIR, "models", f"{model}.arch.json")


def init_checkpoint(arch, out):
    subprocess.run([os.environ["TKC_EXE"], "init-checkpoint", arch, "-o", out], check=True,
                   stdout=subprocess.DEVNULL)
    return out


@pytest.fixture(scope="session")
def nano(tmp_path_factory):
    """nano compiled for this CPU with Bmax 64 (through tkc.compile) and its init-checkpoint."""
    d = tmp_path_factory.mktemp("nano")
    arch = arch_path("nano")
    bundle = tkc.compile(arch, str(d / "bundle"), targets=["x86_64"], max_batch=64, quiet=True)
    with open(arch, encoding="utf-8") as f:
        spec = json.load(f)
    checkpoint = init_checkpoint(arch, str(d / "nano.tkp1"))
    return SimpleNamespace(arch=arch, bundle=bundle, checkpoint=checkpoint,
                           in_dim=spec["input_dim"], out_dim=spec["output_dim"],
                           n_experts=spec["n_experts"], top_k=spec["top_k"])


def sample_rows(batch, width, seed=7):
    """Deterministic float32 rows, some large enough to exercise the LayerNorm and GELU."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((batch, width)) * 1.7).astype(np.float32)


def _wire_float(value):
    """A response number (docs/formats.md §4): null is NaN, +-1e99 is +-Inf."""
    if value is None:
        return np.nan
    if abs(value) == 1e99:
        return np.copysign(np.inf, value)
    return value


def tkrun(bundle, checkpoint, features, expect_exit=0):
    """Runs tkrun on {"features": features} (a list of rows, or one row).

    Features are written with repr() of each float32 widened to double, which is exact, and
    tkrun's strtod reads back the same double, so tkrun sees the very same float32 values.
    Returns (logits, router_weights) as float32 arrays, or the CompletedProcess when the
    expected exit code is not 0."""
    request = json.dumps({"features": np.asarray(features, dtype=np.float32).tolist()})
    done = subprocess.run([TKRUN, "--bundle", bundle, "--checkpoint", checkpoint, "--device", "cpu",
                           "--threads", "1"], input=request, capture_output=True, text=True)
    assert done.returncode == expect_exit, done.stderr
    if expect_exit != 0:
        return done
    answer = json.loads(done.stdout)
    # %.9g round-trips float32: the parsed double converts back to the exact float32 printed.
    return tuple(np.array([[_wire_float(v) for v in row] for row in answer[key]], dtype=np.float32)
                 for key in ("logits", "router_weights"))
