"""tkc.Session and tkc.Bundle against tkrun: the same bits, the runtime's errors, shape checks."""

import json
import os
import subprocess

import numpy as np
import pytest

import tkc
from conftest import TKRUN, init_checkpoint, sample_rows, tkrun


def assert_same_bits(got, want):
    assert got.dtype == np.float32 and got.shape == want.shape, (got.shape, want.shape)
    mismatch = np.flatnonzero(got.view(np.uint32).ravel() != want.view(np.uint32).ravel())
    assert mismatch.size == 0, (
        f"{mismatch.size} of {got.size} values differ, first at flat index {mismatch[0]}: "
        f"{got.ravel()[mismatch[0]]!r} vs tkrun {want.ravel()[mismatch[0]]!r}")


@pytest.fixture(scope="module")
def session(nano):
    with tkc.Session(nano.bundle, nano.checkpoint, device="cpu", threads=1) as s:
        yield s


def test_bundle_describes_the_arch(nano):
    with tkc.Bundle(nano.bundle) as b:
        assert (b.in_dim, b.out_dim, b.n_experts, b.top_k) == (
            nano.in_dim, nano.out_dim, nano.n_experts, nano.top_k)
        checkpoint_bytes = open(nano.checkpoint, "rb").read()
        assert len(b.fingerprint) == 16 and b.fingerprint.encode() in checkpoint_bytes
        assert b.path == nano.bundle
        assert b.max_batch == 64  # tkc.compile passed max_batch=64 on as --max-batch 64


# 1 row, a batch under one CPU row block, one above max_batch (64: chunks of 64, 64, 22),
# and the same in launches of max_rows=24 rows.
@pytest.mark.parametrize("batch,max_rows", [(1, 0), (17, 0), (150, 0), (150, 24)])
def test_forward_matches_tkrun_bit_for_bit(nano, batch, max_rows):
    x = sample_rows(batch, nano.in_dim, seed=batch)
    want_logits, want_rw = tkrun(nano.bundle, nano.checkpoint, x)
    with tkc.Session(nano.bundle, nano.checkpoint, device="cpu", threads=1, max_rows=max_rows) as s:
        assert s.backend == "cpu"
        logits, router_weights = s.forward(x)
    assert_same_bits(logits, want_logits)
    assert_same_bits(router_weights, want_rw)


def test_one_row_matches_tkrun(session, nano):
    x = sample_rows(1, nano.in_dim, seed=3)[0]
    want_logits, want_rw = tkrun(nano.bundle, nano.checkpoint, x)  # {"features": [f, ...]}
    logits, router_weights = session.forward(x)
    assert logits.shape == (nano.out_dim,) and router_weights.shape == (nano.n_experts,)
    assert_same_bits(logits, want_logits[0])
    assert_same_bits(router_weights, want_rw[0])


def test_router_weights_shape_and_sums(session, nano):
    x = sample_rows(40, nano.in_dim, seed=11)
    _, want_rw = tkrun(nano.bundle, nano.checkpoint, x)
    _, rw = session.forward(x)
    assert rw.shape == want_rw.shape == (40, nano.n_experts)
    # docs/formats.md §3: the top_k softmax probabilities, not renormalised.
    assert ((rw != 0).sum(axis=1) == nano.top_k).all()
    assert ((rw >= 0) & (rw < 1)).all()
    sums = rw.sum(axis=1, dtype=np.float64)
    assert (sums >= nano.top_k / nano.n_experts - 1e-6).all() and (sums <= 1 + 1e-6).all()
    assert_same_bits(rw, want_rw)


def test_strided_and_float64_inputs_give_the_same_answer(session, nano):
    x = sample_rows(9, nano.in_dim, seed=5)
    want = session.forward(x)
    wide = np.zeros((9, 2 * nano.in_dim), dtype=np.float32)
    wide[:, ::2] = x
    for other in (wide[:, ::2], x.astype(np.float64), np.asfortranarray(x), x.tolist()):
        got = session.forward(other)
        assert_same_bits(got[0], want[0])
        assert_same_bits(got[1], want[1])


@pytest.mark.parametrize("shape", [(4, 95), (4, 97), (95,), (2, 4, 96), (0, 96), ()])
def test_wrong_input_shape_raises_value_error(session, nano, shape):
    with pytest.raises(ValueError, match=r"96|empty batch|shape"):
        session.forward(np.zeros(shape, dtype=np.float32))


def test_wrong_width_names_the_expected_width(session):
    with pytest.raises(ValueError, match=r"expected 96 features per row.*found 95"):
        session.forward(np.zeros((3, 95), dtype=np.float32))


def test_nonfinite_input_raises_the_runtimes_error(session, nano):
    x = sample_rows(4, nano.in_dim)
    x[2, 5] = np.nan
    with pytest.raises(tkc.StatusError) as e:
        session.forward(x)
    assert e.value.code_name == "INVALID_ARGUMENT" and e.value.code != 0
    assert "row 2" in e.value.message and "5" in e.value.message


def tkrun_error_message(nano, checkpoint):
    """tkrun's message for a checkpoint it cannot open (exit 1, "tkrun: error: MSG")."""
    done = tkrun(nano.bundle, checkpoint, sample_rows(1, nano.in_dim), expect_exit=1)
    prefix = "tkrun: error: "
    assert done.stderr.startswith(prefix) and done.stdout == "", done.stderr
    return done.stderr[len(prefix):].rstrip("\n")


def bad_checkpoints(nano, tmp_path):
    truncated = tmp_path / "truncated.tkp1"
    data = open(nano.checkpoint, "rb").read()
    truncated.write_bytes(data[: len(data) // 2])
    garbage = tmp_path / "garbage.tkp1"
    garbage.write_bytes(b"not a checkpoint at all\n")
    other = json.load(open(nano.arch))
    other["seed"] += 1  # the same tensors under another arch fingerprint
    (tmp_path / "other.arch.json").write_text(json.dumps(other))
    other_arch = init_checkpoint(str(tmp_path / "other.arch.json"), str(tmp_path / "other.tkp1"))
    return [str(truncated), str(garbage), other_arch, str(tmp_path / "missing.tkp1")]


def test_bad_checkpoint_raises_with_the_runtimes_message(nano, tmp_path):
    for checkpoint in bad_checkpoints(nano, tmp_path):
        expected = tkrun_error_message(nano, checkpoint)
        with pytest.raises(tkc.StatusError) as e:
            tkc.Session(nano.bundle, checkpoint, device="cpu")
        assert e.value.message == expected
        assert e.value.code_name in ("INVALID_ARGUMENT", "NOT_FOUND", "IO_ERROR"), e.value.code_name
        assert isinstance(e.value, tkc.Error) and e.value.code_name in str(e.value)
        assert e.value.location.count(":") == 1


def test_bad_bundle_and_device(nano, tmp_path):
    with pytest.raises(tkc.StatusError) as e:
        tkc.Bundle(str(tmp_path / "no-bundle"))
    assert str(tmp_path / "no-bundle") in e.value.message
    with pytest.raises(tkc.StatusError) as e:
        tkc.Session(nano.bundle, nano.checkpoint, device="tpu")
    assert e.value.code_name == "INVALID_ARGUMENT" and "tpu" in e.value.message


@pytest.mark.parametrize("device", ["hip", "cuda"])
def test_gpu_device_without_its_code_is_unavailable_as_in_tkrun(nano, device):
    """The bundle holds x86_64 code only: tkrun exits 3 and the session raises UNAVAILABLE."""
    done = subprocess.run([TKRUN, "--bundle", nano.bundle, "--checkpoint", nano.checkpoint,
                           "--device", device], input="{}", capture_output=True, text=True)
    prefix = "tkrun: device unavailable: "
    assert done.returncode == 3 and done.stderr.startswith(prefix), done.stderr
    with pytest.raises(tkc.StatusError) as e:
        tkc.Session(nano.bundle, nano.checkpoint, device=device)
    assert e.value.code_name == "UNAVAILABLE"
    assert e.value.message == done.stderr[len(prefix):].rstrip("\n")


def test_cpu_forces_one_of_the_bundles_levels(nano):
    """nano has x86-64-v3 and x86-64-v4 code (tkc compile's default --cpu); cpu= runs the one
    asked for, and a level the bundle lacks is UNAVAILABLE naming the levels it has."""
    with tkc.Session(nano.bundle, nano.checkpoint, device="cpu", cpu="x86-64-v3") as s:
        assert s.device.startswith("x86-64-v3 ("), s.device
    with pytest.raises(tkc.StatusError) as e:
        tkc.Session(nano.bundle, nano.checkpoint, device="cpu", cpu="x86-64-v2")
    assert e.value.code_name == "UNAVAILABLE", e.value.message
    assert "it has x86-64-v3, x86-64-v4" in e.value.message, e.value.message


@pytest.mark.parametrize("quiet", [False, True])
def test_quiet_silences_the_auto_selection_line(nano, capfd, quiet):
    with tkc.Session(nano.bundle, nano.checkpoint, device="auto", quiet=quiet) as s:
        assert s.backend == "cpu"  # no GPU code in this bundle
    err = capfd.readouterr().err
    assert ("--device auto: using cpu" in err) != quiet, err


def test_close_releases_and_forward_after_close_raises(nano):
    bundle = tkc.Bundle(nano.bundle)
    x = sample_rows(2, nano.in_dim)
    with tkc.Session(bundle, nano.checkpoint, device="cpu") as s:
        bundle.close()  # the session still borrows it: released when the session closes
        assert bundle._handle is not None
        want = s.forward(x)
    assert bundle._handle is None
    with pytest.raises(ValueError, match="closed"):
        s.forward(x)
    with pytest.raises(ValueError, match="closed"):
        tkc.Session(bundle, nano.checkpoint)
    s.close()  # a second close is harmless
    with tkc.Session(nano.bundle, nano.checkpoint, device="cpu") as again:  # a path: owned bundle
        assert_same_bits(again.forward(x)[0], want[0])
        owned = again.bundle
    assert owned._handle is None


def test_two_sessions_in_one_process(nano):
    x = sample_rows(3, nano.in_dim)
    with tkc.Bundle(nano.bundle) as b:
        with tkc.Session(b, nano.checkpoint, device="cpu", threads=1) as one, \
                tkc.Session(b, nano.checkpoint, device="cpu", threads=2) as two:
            assert_same_bits(one.forward(x)[0], two.forward(x)[0])


def test_compile_failure_raises_with_tkc_stderr(tmp_path):
    arch = tmp_path / "bad.arch.json"
    arch.write_text('{"model_kind": "MoE"}\n')
    with pytest.raises(tkc.CompileError) as e:
        tkc.compile(str(arch), str(tmp_path / "out"), targets=["x86_64"])
    assert e.value.returncode == 1
    assert str(arch) in e.value.stderr and e.value.stderr.strip() in str(e.value)
    assert not os.path.exists(tmp_path / "out")
