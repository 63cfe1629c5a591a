#!/usr/bin/env bash
# Installs the Debian packages tkc needs, only those missing. Idempotent and fast (one
# dpkg-query) when everything is there. Never downloads anything but Debian packages.
set -euo pipefail

packages=(
  cmake ninja-build gcc pkg-config python3
  llvm-19-dev clang-19 clang-tools-19 clang-format-19 libclang-rt-19-dev lld-19
  libz3-dev z3 cvc5
  libcjson-dev libmicrohttpd-dev libssl-dev curl
  python3-pytest python3-numpy
  libamdhip64-dev rocm-device-libs
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "install-deps: not root and no sudo; install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp "${TMPDIR:-/tmp}/install-deps.XXXXXX.log")
# apt and dpkg print hundreds of lines: they go to a log, shown only when something fails.
if ! { $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  tail -n 30 "$log" >&2
  echo "install-deps: apt-get failed; the whole log is $log" >&2
  exit 1
fi
rm -f "$log"
echo "install-deps: done (${#missing[@]} installed)"
