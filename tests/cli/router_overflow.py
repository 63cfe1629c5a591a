#!/usr/bin/env python3
"""tests/cli/router_overflow.py CKPT ROWS BAD — a request (docs/formats.md §4.1) for an in_out
MoE checkpoint whose row BAD of ROWS overflows the router in f32 (docs/formats.md §3.6); BAD -1:
the same rows without the overflowing one.

The other rows are small features. Row BAD is ±3e38 with the signs of expert 0's router column
W[:, 0], read from the checkpoint (§2.1 layout, record `router.param_0`, [in, E] row-major), so
every term of its logit 0 is positive; the script checks, in double, that the sum exceeds
2 * FLT_MAX, so the f32 logit is +Inf whatever the summation order.
"""
import json
import math
import struct
import sys

FLT_MAX = 3.4028234663852886e38


def records(path):
    data = open(path, "rb").read()
    assert data[:4] == b"TKP1", "not a TKP1 checkpoint"
    _version, _step, count, config_len = struct.unpack_from("<4I", data, 4)
    off = 20 + config_len
    for _ in range(count):
        (name_len,) = struct.unpack_from("<I", data, off)
        name = data[off + 4 : off + 4 + name_len].decode()
        off += 4 + name_len
        (n,) = struct.unpack_from("<I", data, off)
        weights = struct.unpack_from("<%df" % n, data, off + 4)
        off += 4 + 4 * n
        for _moment in range(2):
            (m,) = struct.unpack_from("<I", data, off)
            off += 4 + 4 * m
        off += 4  # step
        has_grad = data[off]
        off += 1
        if has_grad:
            (g,) = struct.unpack_from("<I", data, off)
            off += 4 + 4 * g
        yield name, weights


def main():
    path, rows, bad = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    params = dict(records(path))
    n_experts = len(params["router.param_1"])
    w = params["router.param_0"]
    column0 = w[0::n_experts]
    assert sum(abs(v) for v in column0) * 3e38 > 2 * FLT_MAX, "router column 0 too small"
    big = [math.copysign(3e38, v) for v in column0]
    small = [[0.01 * ((i * 7 + r * 3) % 11 - 5) for i in range(len(column0))] for r in range(rows)]
    if bad >= 0:
        small[bad] = big
    print(json.dumps({"features": small}))


main()
