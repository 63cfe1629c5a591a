#!/usr/bin/env bash
# tests/cli/tkserve.sh — tkserve over real HTTP on 127.0.0.1 with curl (docs/formats.md §4):
# /healthz fields; single and batch /infer byte-identical to tkrun; any Content-Type; every
# bad-request class with its status (400 bodies, 400 naming a row whose router logits overflow
# f32, 404, 405, 413 from Content-Length with
# `Expect: 100-continue` and from a chunked upload read to its end) and the server healthy
# afterwards; 8 concurrent clients × 50 requests all byte-identical; 503 while an --arch model
# is still compiling (bind address from TOKITAI_MODEL_BIND_ADDR); SIGTERM → clean exit 0; one
# access-log line per request. Every loop is bounded; servers are killed on exit.
set -u
BIN="${TK_BIN:-build/bin}"
cd "${TK_SOURCE_DIR:-.}"
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done; rm -rf "$tmp"; }
trap cleanup EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

row() { awk -v n="$1" -v w="$2" 'BEGIN { printf "["; for (i = 0; i < w; i++) printf "%s%.5f", (i ? "," : ""), 1.3 * sin(0.29 * (i + 1) + n); printf "]" }'; }

# start_server LOG ARGS...: starts tkserve, sets $pid and $port (from "listening on").
start_server() {
  local log=$1; shift
  "$BIN/tkserve" "$@" 2>"$log" &
  pid=$!
  pids+=("$pid")
  port=""
  for _ in $(seq 100); do
    port=$(sed -n 's/^tkserve: listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$log")
    [ -n "$port" ] && return 0
    sleep 0.1
  done
  fail "tkserve did not print its address: $(cat "$log")"
  return 1
}
# wait_ready: polls /healthz until 200 (at most 60 s).
wait_ready() {
  for _ in $(seq 600); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/healthz")" = 200 ] && return 0
    sleep 0.1
  done
  fail "tkserve never became ready"
  return 1
}
# status METHOD PATH [curl args...]: prints the HTTP status; the body goes to $tmp/body.
status() {
  local method=$1 path=$2; shift 2
  curl -s -m 60 -o "$tmp/body" -w '%{http_code}' -X "$method" "$@" "http://127.0.0.1:$port$path"
}
expect() {
  local want=$1; shift
  local got
  got=$(status "$@")
  [ "$got" = "$want" ] || fail "$*: HTTP $got, expected $want: $(head -c 200 "$tmp/body")"
}
is_error_json() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert list(d) == ["error"] and d["error"]' "$tmp/body" 2>/dev/null; }

arch=models/nano.arch.json
# One CPU level: the levels are tkrun.sh's (tkserve chooses through the same session code).
"$BIN/tkc" compile "$arch" -o "$tmp/nano" --cpu x86-64-v3 --quiet || { fail "compile"; exit 1; }
"$BIN/tkc" init-checkpoint "$arch" -o "$tmp/nano.tkp1" >/dev/null || { fail "checkpoint"; exit 1; }
"$BIN/tkserve" --help >"$tmp/help" && grep -q "usage: tkserve" "$tmp/help" &&
  grep -q "Exit codes: 0 clean shutdown" "$tmp/help" || fail "tkserve --help (usage and exit codes)"
"$BIN/tkserve" --bundle "$tmp/nano" 2>/dev/null; [ $? -eq 2 ] || fail "tkserve without --checkpoint: exit 2 expected"
"$BIN/tkserve" --bundle "$tmp/nano" --checkpoint "$tmp/nano.tkp1" --device hip --bind 127.0.0.1:0 2>/dev/null
[ $? -eq 3 ] || fail "tkserve --device hip: exit 3 expected"

printf '{"features": %s}' "$(row 0 96)" >"$tmp/single"
printf '{"features": [%s, %s, %s, %s, %s]}' "$(row 1 96)" "$(row 2 96)" "$(row 3 96)" "$(row 4 96)" "$(row 5 96)" >"$tmp/batch"
for r in single batch; do
  "$BIN/tkrun" --bundle "$tmp/nano" --checkpoint "$tmp/nano.tkp1" --device cpu <"$tmp/$r" >"$tmp/$r.want" 2>/dev/null || fail "tkrun $r"
done

start_server "$tmp/log" --bundle "$tmp/nano" --checkpoint "$tmp/nano.tkp1" --device cpu --bind 127.0.0.1:0 --workers 4 || exit 1
wait_ready || exit 1
requests=0

expect 200 GET /healthz; requests=$((requests + 1))
python3 - "$tmp/body" "$tmp/nano" "$tmp/nano.tkp1" <<'PY' || fail "healthz fields: $(cat "$tmp/body")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["status"] == "ok" and d["arch"] is None and d["bundle"] == sys.argv[2]
assert d["checkpoint"] == sys.argv[3] and (d["in_dim"], d["out_dim"], d["n_experts"]) == (96, 20, 4)
assert len(d["fingerprint"]) == 16 and d["device"] == "cpu"
PY

for r in single batch; do
  for ct in application/json text/plain application/x-www-form-urlencoded application/octet-stream; do
    expect 200 POST /infer -H "Content-Type: $ct" --data-binary "@$tmp/$r"; requests=$((requests + 1))
    cmp -s "$tmp/body" "$tmp/$r.want" || fail "/infer $r ($ct) differs from tkrun"
  done
done

good=$(row 0 96)
bad_bodies=('' '{' '{"features": [1, 2]}' "{\"features\": [$good, [1]]}" '{"features": ["x"]}'
  "{\"features\": [${good%,*}, null]}" "{\"features\": [${good%,*}, 1e400]}" '{"features": []}'
  '[1]' 'null' '{"other": 1}' "{\"features\": $good} trailing" $'\xff\xfe{')
for body in "${bad_bodies[@]}"; do
  printf '%s' "$body" >"$tmp/req"
  expect 400 POST /infer --data-binary "@$tmp/req"; requests=$((requests + 1))
  is_error_json || fail "400 for '${body:0:30}' has no {\"error\"} body: $(head -c 200 "$tmp/body")"
done
# Router overflow (docs/formats.md §3.6): 400 with an error naming the row; then healthy.
python3 tests/cli/router_overflow.py "$tmp/nano.tkp1" 3 2 >"$tmp/req" || fail "router_overflow.py"
expect 400 POST /infer --data-binary "@$tmp/req"; requests=$((requests + 1))
is_error_json || fail "router overflow: no {\"error\"} body: $(head -c 200 "$tmp/body")"
grep -q '"row 2: the router logits are not finite' "$tmp/body" ||
  fail "router overflow: the error does not name row 2: $(head -c 200 "$tmp/body")"
expect 404 GET /nope; expect 404 POST /infer/x --data-binary "@$tmp/single"; expect 404 GET /
expect 405 GET /infer; expect 405 PUT /infer --data-binary "@$tmp/single"; expect 405 DELETE /healthz
expect 405 POST /healthz --data-binary "@$tmp/single"
requests=$((requests + 7))
is_error_json || fail "405 has no {\"error\"} body"

head -c 20000000 /dev/zero | tr '\0' ' ' >"$tmp/big"
expect 413 POST /infer -H "Expect: 100-continue" --data-binary "@$tmp/big"
is_error_json || fail "413 (Content-Length) has no {\"error\"} body"
expect 413 POST /infer -H "Transfer-Encoding: chunked" --data-binary "@$tmp/big"
is_error_json || fail "413 (chunked) has no {\"error\"} body"
requests=$((requests + 2))
expect 200 GET /healthz; expect 200 POST /infer --data-binary "@$tmp/batch"; requests=$((requests + 2))
cmp -s "$tmp/body" "$tmp/batch.want" || fail "after the bad requests, /infer differs"

# 8 concurrent clients × 50 requests, alternating single and batch: all byte-identical.
for c in $(seq 8); do
  (
    bad=0
    for i in $(seq 50); do
      r=single; [ $((i % 2)) = 0 ] && r=batch
      curl -s -m 60 --data-binary "@$tmp/$r" "http://127.0.0.1:$port/infer" -o "$tmp/c$c.out" || bad=$((bad + 1))
      cmp -s "$tmp/c$c.out" "$tmp/$r.want" || bad=$((bad + 1))
    done
    echo "$bad" >"$tmp/c$c.bad"
  ) &
done
wait_clients=0
for c in $(seq 8); do
  for _ in $(seq 1200); do [ -s "$tmp/c$c.bad" ] && break; sleep 0.1; done
  [ "$(cat "$tmp/c$c.bad" 2>/dev/null)" = 0 ] || fail "concurrent client $c: $(cat "$tmp/c$c.bad" 2>/dev/null || echo timeout) bad answers"
done
requests=$((requests + 400))
expect 200 GET /healthz; requests=$((requests + 1))

kill -TERM "$pid"
code=timeout
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || { wait "$pid"; code=$?; break; }; sleep 0.1; done
[ "$code" = 0 ] || fail "SIGTERM: exit $code, expected 0"
grep -q "shutting down" "$tmp/log" || fail "SIGTERM: no shutdown line"
logged=$(grep -c '^tkserve: 127\.0\.0\.1 "' "$tmp/log")
[ "$logged" -ge "$requests" ] || fail "access log has $logged lines for at least $requests requests"

# --arch with an empty cache: 503 while compiling, then ready; bind from the environment.
export XDG_CACHE_HOME="$tmp/cache"
TOKITAI_MODEL_BIND_ADDR=127.0.0.1:0 start_server "$tmp/log2" --arch "$arch" --checkpoint "$tmp/nano.tkp1" --device cpu || exit 1
got=$(status GET /healthz)
[ "$got" = 503 ] || fail "healthz while compiling: HTTP $got, expected 503"
got=$(status POST /infer --data-binary "@$tmp/single")
[ "$got" = 503 ] || fail "infer while compiling: HTTP $got, expected 503"
wait_ready
expect 200 POST /infer --data-binary "@$tmp/single"
cmp -s "$tmp/body" "$tmp/single.want" || fail "--arch server answer differs from tkrun"
expect 200 GET /healthz
grep -q "\"arch\":\"$arch\"" "$tmp/body" || fail "healthz arch field: $(cat "$tmp/body")"
kill -INT "$pid"
code=timeout
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || { wait "$pid"; code=$?; break; }; sleep 0.1; done
[ "$code" = 0 ] || fail "SIGINT: exit $code, expected 0"

[ "$failures" -eq 0 ] && echo "tkserve: all checks passed"
exit $((failures > 0))
