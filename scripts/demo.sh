#!/usr/bin/env bash
# Installs openras in a venv and runs the demo on the embedded default: a per-user rasman
# started on demand, a loopback entry dialed, listed from a second process, hung up.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && ! dpkg -s python3-venv >/dev/null 2>&1; then
  apt-get -o DPkg::Lock::Timeout=600 update -qq &&
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends python3-venv >/dev/null
fi
[ -x .venv/bin/python ] || "${PYTHON:-$( [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || echo python3 )}" -m venv .venv
.venv/bin/python -m pip install -q -e .
exec .venv/bin/python -m openras.demo
