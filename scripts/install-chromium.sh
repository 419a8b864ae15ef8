#!/usr/bin/env bash
# Makes sure Debian's chromium is installed, for the browser tests
# (e2e TestDashboardBrowser, driven by playwright-core with executablePath).
# Idempotent and quiet: nothing is done when chromium is on PATH. It
# installs with apt-get as root (or with sudo -n); when that is impossible
# it says why and exits 0, and the browser tests skip with the same reason
# (MLGOV_E2E_REQUIRE=1 turns that skip into a failure).
set -uo pipefail

if path=$(command -v chromium 2>/dev/null); then
  echo "chromium: $path ($("$path" --version 2>/dev/null | head -1))"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo="sudo -n"
  else
    echo "chromium: not installed, and installing it needs root (apt-get install chromium); the browser tests will skip"
    exit 0
  fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "chromium: not installed, and there is no apt-get to install it with; the browser tests will skip"
  exit 0
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
install() {
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-liberation >>"$log" 2>&1
}
start=$SECONDS
# A fresh machine may have no package lists (or stale ones): update once
# when the first attempt fails.
if ! install; then
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >>"$log" 2>&1
  if ! install; then
    echo "chromium: apt-get install chromium failed; the browser tests will skip. apt-get said:"
    tail -n 20 "$log" | sed 's/^/  /'
    exit 0
  fi
fi
path=$(command -v chromium) || { echo "chromium: installed, but not on PATH; the browser tests will skip"; exit 0; }
echo "chromium: installed $path in $((SECONDS - start)) s ($("$path" --version 2>/dev/null | head -1))"
