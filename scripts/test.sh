#!/usr/bin/env bash
# Sets up everything the test suite needs on a fresh Debian 12 (run as root) and runs it:
# the link programs, a venv with openras and its dev tools, ruff, mypy, then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS="python3-venv openvpn wireguard-go wireguard-tools openssh-server openssh-client iputils-ping iproute2 tmux zsh util-linux passwd procps dbus"
# The VM tier (tests/vm): QEMU, Debian's kernel (its modules have PPP, L2TP, ESP and WireGuard,
# which the kernel here lacks), the static busybox virtme-ng builds the guest's initramfs
# from, and the link programs the guest runs (it sees the host's files).
PKGS="$PKGS qemu-system-x86 linux-image-amd64 busybox-static ppp pppoe"
# PPTP: the client (pptp-linux, run by pppd as its pty) and the VM tier's test server.
PKGS="$PKGS pptp-linux pptpd"
# IKEv2: strongSwan's charon with the userspace ESP path (kernel-libipsec, extra plugins),
# EAP-MSCHAPv2 (extauth) and OpenSSL's legacy MD4/DES (standard plugins); swanctl and pki
# for the test responder. Not libstrongswan-extra-plugins: it pulls in systemd.
PKGS="$PKGS strongswan-charon strongswan-swanctl strongswan-pki libcharon-extra-plugins libcharon-extauth-plugins libstrongswan-standard-plugins"
# L2TP/IPsec: xl2tpd (with charon above and pppd). SSTP: sstp-client (sstpc and its pppd
# plugin); openssl makes the tests' certificates.
PKGS="$PKGS xl2tpd sstp-client openssl"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  missing=""
  for p in $PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
  if [ -n "$missing" ]; then
    export DEBIAN_FRONTEND=noninteractive
    # Wait for another apt or dpkg (unattended-upgrades, say) instead of failing at once.
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    # A machine that boots no kernel from /boot (a container, a microVM like CI's) gets
    # linux-image-amd64 only for the VM tier, which boots it without Debian's initramfs:
    # INITRD=No makes the kernel's postinst hook skip update-initramfs (about 40 s a run).
    # A machine that does boot from /boot keeps the normal initramfs.
    if ! compgen -G '/boot/vmlinuz-*' >/dev/null; then export INITRD=No; fi
    # shellcheck disable=SC2086
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $missing >/dev/null
  fi
fi

# Debian's own interpreter when present: what a newcomer on Debian 12 gets (and it starts fast).
PY=${PYTHON:-$( [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || echo python3 )}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
# pip's log goes to a file and is shown only when an install fails (the mirrors it is
# configured with print a warning per package that would bury the test output).
pip_log=$(mktemp)
trap 'rm -f "$pip_log"' EXIT
if ! { .venv/bin/python -m pip install -q --upgrade pip &&
       .venv/bin/python -m pip install -q -e '.[dev]'; } >"$pip_log" 2>&1; then
  cat "$pip_log" >&2
  exit 1
fi

.venv/bin/ruff check src tests bench fuzz
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
