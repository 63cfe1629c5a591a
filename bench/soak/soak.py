#!/usr/bin/env python3
"""bench/soak/soak.py — a long soak of tkserve on loopback (not part of ctest).

Starts tkserve on 127.0.0.1:0 (compiling models/nano into a temporary bundle unless --bundle and
--checkpoint are given), warms it up, then runs --clients load processes for --duration seconds,
each on one kept-alive connection sending POST /infer with a --rows batch in a loop (a python
load generator: wrk is not needed). With --abuse, the same run also carries hostile traffic from
127.0.0.2: trickling connections (slowloris), a 16 MiB body every few seconds, bad request lines.

Prints (and with --json FILE writes): requests/s, latency p50/p90/p99/max, errors by kind, the
server's RSS before the load (after warm-up), its peak, and after the load (after 2 s idle);
then stops the server with SIGTERM and reports its exit code and shutdown time.

  python3 bench/soak/soak.py [--bin build/bin] [--duration 300] [--clients 8] [--rows 16]
                             [--abuse] [--json out.json] [-- extra tkserve flags]
"""
import argparse
import json
import math
import multiprocessing as mp
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def body_for(rows):
    feats = [[round(1.3 * math.sin(0.29 * (i + 1) + n), 5) for i in range(96)] for n in range(rows)]
    return json.dumps({"features": feats}).encode()


def read_response(sock, buf):
    """Reads one response from a kept-alive socket; returns (status, rest of buffer)."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError("EOF")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    m = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
    length = int(m.group(1)) if m else 0
    while len(rest) < length:
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("EOF in body")
        rest += chunk
    close = re.search(rb"(?i)\r\nconnection: *close", head) is not None
    return status, rest[length:], close


def client(args):
    """One load process: a kept-alive connection, requests until the deadline."""
    port, deadline, rows = args
    body = body_for(rows)
    req = (b"POST /infer HTTP/1.1\r\nHost: soak\r\nContent-Length: %d\r\n\r\n" % len(body)) + body
    lat, errors, sock, buf = [], {}, None, b""
    while time.monotonic() < deadline:
        try:
            if sock is None:
                sock = socket.create_connection(("127.0.0.1", port), timeout=30)
                buf = b""
            t0 = time.perf_counter()
            sock.sendall(req)
            status, buf, close = read_response(sock, buf)
            lat.append(time.perf_counter() - t0)
            if status != 200:
                errors[str(status)] = errors.get(str(status), 0) + 1
            if close:
                sock.close()
                sock = None
        except OSError as e:
            errors[type(e).__name__] = errors.get(type(e).__name__, 0) + 1
            if sock:
                sock.close()
            sock = None
            time.sleep(0.01)
    if sock:
        sock.close()
    return lat, errors


def abuse(port, deadline, counts):
    """Hostile traffic from 127.0.0.2 until the deadline."""
    big = b" " * (16 << 20)
    trickle = []
    next_big = time.monotonic()
    while time.monotonic() < deadline:
        while len(trickle) < 200:  # slowloris: keep 200 trickling connections open
            s = socket.socket()
            s.bind(("127.0.0.2", 0))
            s.settimeout(1)
            try:
                s.connect(("127.0.0.1", port))
                s.send(b"GET /healthz HTTP/1.1\r\n")
                trickle.append(s)
            except OSError:
                s.close()
                counts["trickle_refused"] = counts.get("trickle_refused", 0) + 1
                break
        for s in list(trickle):
            try:
                s.send(b"X")
            except OSError:
                trickle.remove(s)
                s.close()
                counts["trickle_closed"] = counts.get("trickle_closed", 0) + 1
        if time.monotonic() >= next_big:  # a 16 MiB body, and a bad request line
            next_big = time.monotonic() + 3
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=10)
                s.sendall(b"POST /infer HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % len(big)
                          + big)
                counts["big"] = counts.get("big", 0) + 1
                s.close()
                s = socket.create_connection(("127.0.0.1", port), timeout=10)
                s.sendall(b"\x16\x03\x01garbage\r\n\r\n")
                s.recv(4096)
                s.close()
                counts["bad_line"] = counts.get("bad_line", 0) + 1
            except OSError:
                pass
        time.sleep(1)
    for s in trickle:
        s.close()


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(p / 100 * len(sorted_values)))]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--bin", default="build/bin")
    ap.add_argument("--bundle")
    ap.add_argument("--checkpoint")
    ap.add_argument("--duration", type=float, default=300)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--rows", type=int, default=16)
    ap.add_argument("--abuse", action="store_true")
    ap.add_argument("--json")
    ap.add_argument("extra", nargs="*", help="extra tkserve flags (after --)")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bundle, ckpt = a.bundle, a.checkpoint
        if not (bundle and ckpt):
            arch = os.path.join(os.path.dirname(__file__), "..", "..", "models", "nano.arch.json")
            bundle, ckpt = f"{tmp}/nano", f"{tmp}/nano.tkp1"
            subprocess.run([f"{a.bin}/tkc", "compile", arch, "-o", bundle, "--quiet"], check=True)
            subprocess.run([f"{a.bin}/tkc", "init-checkpoint", arch, "-o", ckpt], check=True,
                           stdout=subprocess.DEVNULL)
        log_path = f"{tmp}/server.log"
        with open(log_path, "wb") as log:
            server = subprocess.Popen([f"{a.bin}/tkserve", "--bundle", bundle, "--checkpoint", ckpt,
                                       "--bind", "127.0.0.1:0"] + a.extra, stderr=log)
        try:
            port = None
            for _ in range(600):
                m = re.search(r"listening on 127\.0\.0\.1:(\d+)", open(log_path).read())
                if m and "ready" in open(log_path).read():
                    port = int(m.group(1))
                    break
                time.sleep(0.1)
            if port is None:
                sys.exit("tkserve did not start: " + open(log_path).read())
            client((port, time.monotonic() + 2, a.rows))  # warm-up
            time.sleep(0.5)
            rss_before = rss_kib(server.pid)
            peak = [rss_before]
            done = threading.Event()

            def sample():
                while not done.is_set():
                    peak[0] = max(peak[0], rss_kib(server.pid))
                    time.sleep(0.5)
            sampler = threading.Thread(target=sample)
            sampler.start()
            deadline = time.monotonic() + a.duration
            abuse_counts = {}
            abuser = None
            if a.abuse:
                abuser = threading.Thread(target=abuse, args=(port, deadline, abuse_counts))
                abuser.start()
            t0 = time.monotonic()
            with mp.Pool(a.clients) as pool:
                results = pool.map(client, [(port, deadline, a.rows)] * a.clients)
            elapsed = time.monotonic() - t0
            if abuser:
                abuser.join()
            done.set()
            sampler.join()
            time.sleep(2)
            rss_after = rss_kib(server.pid)
            lat = sorted(x for r in results for x in r[0])
            errors = {}
            for _, e in results:
                for k, v in e.items():
                    errors[k] = errors.get(k, 0) + v
            t_stop = time.monotonic()
            server.send_signal(signal.SIGTERM)
            code = server.wait(60)
            report = {
                "duration_s": round(elapsed, 1), "clients": a.clients, "rows": a.rows,
                "requests": len(lat), "req_per_s": round(len(lat) / elapsed, 1),
                "p50_ms": round(percentile(lat, 50) * 1e3, 2),
                "p90_ms": round(percentile(lat, 90) * 1e3, 2),
                "p99_ms": round(percentile(lat, 99) * 1e3, 2),
                "max_ms": round(lat[-1] * 1e3, 2) if lat else None,
                "errors": errors, "abuse": abuse_counts if a.abuse else None,
                "rss_before_mib": round(rss_before / 1024, 1),
                "rss_peak_mib": round(peak[0] / 1024, 1),
                "rss_after_mib": round(rss_after / 1024, 1),
                "exit_code": code, "shutdown_s": round(time.monotonic() - t_stop, 2),
            }
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()
    for k, v in report.items():
        print(f"{k:16} {v}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(report, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
