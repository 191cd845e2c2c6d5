#!/usr/bin/env bash
# Installs openras system-wide from this source tree, or removes it again.
#
#   sudo scripts/install.sh                 install or upgrade; enable and start the service
#   sudo scripts/install.sh --with-links    ... and apt-get the link programs too
#   sudo scripts/install.sh --uninstall     remove it (keeps an edited policy.conf and the state)
#   sudo scripts/install.sh --purge         remove it with /etc/openras and /var/lib/openras
#
# What goes where (each can be moved with the option named):
#   /opt/openras/                    a venv with openras and its dependencies    (--venv)
#   /usr/local/bin/{rasman,rasdial,openras,rasphone}  links into it             (--bindir)
#   /etc/systemd/system/openras.service   ExecStart=<venv>/bin/rasman           (--unitdir)
#   /usr/local/share/doc/openras/    README.md and docs/ (the unit's Documentation=) (--docdir)
#   /etc/openras/policy.conf         who may dial what; an edited one is never overwritten:
#                                    the new default goes to policy.conf.new (dpkg's rule)
#   /etc/openras/known_hosts/        the administrator's ssh host keys, per entry
# --root DIR installs into DIR as if it were / (for packaging and tests): the files name the
# final paths, and nothing is started. Running it again is safe: it upgrades in place.
set -euo pipefail
umask 022

SRC=$(cd "$(dirname "$0")/.." && pwd)
VENV=/opt/openras
BINDIR=/usr/local/bin
UNITDIR=/etc/systemd/system
DOCDIR=/usr/local/share/doc/openras
CONFDIR=/etc/openras
STATEDIR=/var/lib/openras
ROOT=
ACTION=install
WITH_LINKS=0
START=1
COMMANDS=(rasman rasdial openras rasphone)
# What the links need on Debian: openvpn, wireguard-go (userspace WireGuard; wg configures
# it and the kernel module), ssh's client, pppd, strongSwan's charon with the userspace ESP
# path and EAP-MSCHAPv2. resolvconf/systemd-resolved are used if present.
LINK_PACKAGES=(openvpn wireguard-go wireguard-tools openssh-client ppp strongswan-charon
  libcharon-extra-plugins libcharon-extauth-plugins libstrongswan-standard-plugins)

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
  cat <<EOF
options: --venv DIR --bindir DIR --unitdir DIR --docdir DIR --root DIR
         --with-links  --no-start  --uninstall  --purge  -h|--help
EOF
}

while [ $# -gt 0 ]; do
  case $1 in
    --venv) VENV=$2; shift ;;
    --bindir) BINDIR=$2; shift ;;
    --unitdir) UNITDIR=$2; shift ;;
    --docdir) DOCDIR=$2; shift ;;
    --root) ROOT=$(realpath -m "$2"); shift ;;
    --with-links) WITH_LINKS=1 ;;
    --no-start) START=0 ;;
    --uninstall) ACTION=uninstall ;;
    --purge) ACTION=purge ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
for d in "$VENV" "$BINDIR" "$UNITDIR" "$DOCDIR"; do
  case $d in /*) ;; *) echo "install.sh: $d is not an absolute path" >&2; exit 2 ;; esac
done
if [ "$(id -u)" != 0 ] && [ -z "$ROOT" ]; then
  echo "install.sh: run it as root (sudo $0 $*), or with --root DIR to stage the files" >&2
  exit 1
fi
[ -n "$ROOT" ] && START=0

say() { printf '%s\n' "$*"; }
# systemd is the init system (not merely installed): what sd_booted() checks.
systemd_runs() { [ -d /run/systemd/system ] && command -v systemctl >/dev/null; }
sum() { sha256sum "$1" | cut -d' ' -f1; }
# The hash of each configuration file as this script installed it, to tell an untouched
# file (replaced on upgrade, removed on uninstall) from the administrator's edit (kept).
MANIFEST=$VENV/share/openras/conffiles.sha256
# The directories the install had to create (such as /usr/local/share/doc): an uninstall
# removes them again if they are empty, and no directory that was there before.
CREATED_LIST=$VENV/share/openras/created-dirs
CREATED=()

# install -d, remembering each directory (parents too) that did not exist.
mkdirs() {
  local d p
  for d in "$@"; do
    p=$d
    while [ "$p" != / ] && [ ! -e "$ROOT$p" ]; do
      CREATED+=("$p")
      p=$(dirname "$p")
    done
    [ -d "$ROOT$d" ] || install -d -m 0755 "$ROOT$d"
  done
}

# A conffile: install $1 as $2 unless the administrator changed the one there.
install_conffile() {
  local new=$1 dest=$ROOT$2 recorded=""
  [ -f "$ROOT$MANIFEST" ] && recorded=$(awk -v p="$2" '$2 == p {print $1}' "$ROOT$MANIFEST")
  if [ ! -e "$dest" ] || [ "$(sum "$dest")" = "$recorded" ]; then
    install -m 0644 "$new" "$dest"
    rm -f "$dest.new"
  elif cmp -s "$new" "$dest"; then
    rm -f "$dest.new"
  else
    install -m 0644 "$new" "$dest.new"
    say "kept your edited $2; the new default is $2.new (compare them: diff $2 $2.new)"
    return
  fi
  printf '%s %s\n' "$(sum "$dest")" "$2" >>"$ROOT$MANIFEST.tmp"
}

do_install() {
  if [ "$WITH_LINKS" = 1 ]; then
    say "installing the link programs: ${LINK_PACKAGES[*]}"
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
      --no-install-recommends "${LINK_PACKAGES[@]}"
  fi
  local py=${PYTHON:-/usr/bin/python3}
  [ -x "$py" ] || py=$(command -v python3)
  if ! "$py" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "install.sh: needs Python 3.11 or later with venv (Debian: apt-get install python3-venv)" >&2
    exit 1
  fi

  say "openras into $VENV (a venv of $py)"
  if [ ! -x "$ROOT$VENV/bin/python" ]; then
    mkdirs "$(dirname "$VENV")"
    "$py" -m venv "$ROOT$VENV"
  fi
  # A non-editable install: the system daemon must not run code from a work tree.
  "$ROOT$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade "$SRC"
  if [ -n "$ROOT" ]; then
    # The venv will run from $VENV: its scripts name their interpreter by full path.
    { grep -rlIF "$ROOT$VENV" "$ROOT$VENV/bin" || true; } | xargs -r sed -i "s|$ROOT$VENV|$VENV|g"
  fi

  mkdirs "$BINDIR"
  for c in "${COMMANDS[@]}"; do
    if [ -e "$ROOT$BINDIR/$c" ] && [ ! -L "$ROOT$BINDIR/$c" ]; then
      echo "install.sh: $BINDIR/$c exists and is not a link; move it away first" >&2
      exit 1
    fi
    ln -sfn "$VENV/bin/$c" "$ROOT$BINDIR/$c"
  done

  mkdirs "$DOCDIR" "$DOCDIR/docs"
  install -m 0644 "$SRC/README.md" "$ROOT$DOCDIR/README.md"
  install -m 0644 "$SRC"/docs/*.md "$ROOT$DOCDIR/docs/"

  mkdirs "$UNITDIR"
  sed -e "s|^ExecStart=.*|ExecStart=$VENV/bin/rasman|" \
    -e "s|^Documentation=.*|Documentation=file:$DOCDIR/README.md|" \
    "$SRC/packaging/openras.service" >"$ROOT$UNITDIR/openras.service.tmp"
  chmod 0644 "$ROOT$UNITDIR/openras.service.tmp"
  mv -f "$ROOT$UNITDIR/openras.service.tmp" "$ROOT$UNITDIR/openras.service"

  mkdirs "$CONFDIR" "$CONFDIR/known_hosts"
  install -d "$ROOT$(dirname "$MANIFEST")"
  # Deepest first, each once (a second run adds nothing: everything exists by then).
  { [ -f "$ROOT$CREATED_LIST" ] && cat "$ROOT$CREATED_LIST"
    [ ${#CREATED[@]} = 0 ] || printf '%s\n' "${CREATED[@]}"; } |
    awk '!seen[$0]++ {print length($0) "\t" $0}' | sort -rn | cut -f2- >"$ROOT$CREATED_LIST.tmp"
  mv -f "$ROOT$CREATED_LIST.tmp" "$ROOT$CREATED_LIST"
  : >"$ROOT$MANIFEST.tmp"
  install_conffile "$SRC/packaging/policy.conf" "$CONFDIR/policy.conf"
  # A conffile kept as the administrator's keeps its old record (still theirs next time).
  [ -f "$ROOT$MANIFEST" ] && awk 'NR == FNR {seen[$2] = 1; next} !($2 in seen)' \
    "$ROOT$MANIFEST.tmp" "$ROOT$MANIFEST" >>"$ROOT$MANIFEST.tmp" || true
  mv -f "$ROOT$MANIFEST.tmp" "$ROOT$MANIFEST"

  local missing=()
  for p in openvpn wireguard-go wg ssh; do
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin command -v "$p" >/dev/null || missing+=("$p")
  done
  [ ${#missing[@]} = 0 ] || say "not installed: ${missing[*]} (the links that use them fail with 797;" \
    "--with-links installs ${LINK_PACKAGES[*]})"

  if [ "$START" = 1 ] && systemd_runs; then
    systemctl daemon-reload
    systemctl enable openras.service
    # An upgrade restarts the manager; links stay up (KillMode=process) and are adopted.
    systemctl restart openras.service
    say "openras.service enabled and running: systemctl status openras"
  elif [ "$START" = 1 ]; then
    say "systemd is not running here: start the manager as root with"
    say "  RUNTIME_DIRECTORY=/run/openras STATE_DIRECTORY=$STATEDIR $VENV/bin/rasman &"
    say "(it listens on /run/openras/rasman.sock, which every user's client tries first)"
  fi
  say "installed: ${COMMANDS[*]} in $BINDIR; try as any user: openras manager; rasdial"
}

do_uninstall() {
  if [ -z "$ROOT" ] && systemd_runs && systemctl cat openras.service >/dev/null 2>&1; then
    systemctl disable --now openras.service || true
  elif [ -z "$ROOT" ] && [ -f "$STATEDIR/rasman.lock" ] &&
    ! flock -n "$STATEDIR/rasman.lock" true 2>/dev/null; then
    say "a rasman (pid $(head -c 32 "$STATEDIR/rasman.lock" | tr -d '\n')) still runs; stop it too"
  fi
  rm -f "$ROOT$UNITDIR/openras.service"
  [ -z "$ROOT" ] && systemd_runs && systemctl daemon-reload
  for c in "${COMMANDS[@]}"; do
    # Only our links: a file of the same name that points elsewhere is not ours.
    if [ -L "$ROOT$BINDIR/$c" ] && [ "$(readlink "$ROOT$BINDIR/$c")" = "$VENV/bin/$c" ]; then
      rm -f "$ROOT$BINDIR/$c"
    fi
  done
  rm -rf "$ROOT$DOCDIR"

  local conf=$CONFDIR/policy.conf recorded=""
  [ -f "$ROOT$MANIFEST" ] && recorded=$(awk -v p="$conf" '$2 == p {print $1}' "$ROOT$MANIFEST")
  rm -f "$ROOT$conf.new"
  if [ "$ACTION" = purge ]; then
    rm -rf "$ROOT$CONFDIR" "$ROOT$STATEDIR"
  else
    if [ -f "$ROOT$conf" ] && [ "$(sum "$ROOT$conf")" = "$recorded" ]; then
      rm -f "$ROOT$conf"
    elif [ -f "$ROOT$conf" ]; then
      say "kept your edited $conf (--purge removes it)"
    fi
    rmdir "$ROOT$CONFDIR/known_hosts" 2>/dev/null || true
    rmdir "$ROOT$CONFDIR" 2>/dev/null || say "kept $CONFDIR: it holds your files (--purge removes it)"
    [ -d "$ROOT$STATEDIR" ] && say "kept $STATEDIR (saved credentials, the handle counter; --purge removes it)"
  fi
  local created=()
  [ -f "$ROOT$CREATED_LIST" ] && mapfile -t created <"$ROOT$CREATED_LIST"
  rm -rf "$ROOT$VENV"
  for d in "${created[@]}"; do
    case $d in "$VENV"/*) ;; /?*) rmdir "$ROOT$d" 2>/dev/null || true ;; esac
  done
  say "openras removed"
}

case $ACTION in
  install) do_install ;;
  uninstall | purge) do_uninstall ;;
esac
