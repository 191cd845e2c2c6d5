#!/bin/sh
# Runs inside the VM (vng --exec, as root, the host's files read-only): the guest tier as one
# pytest session. Usage: guest_run.sh RWDIR PYTHON REPO [pytest args...]; the args, when
# given, replace the default target tests/vm/guest (say, one guest file).
# RWDIR is shared read-write with the host; the `done` marker is written last, so the host
# tells "the guest gave no result" from "the tests failed".
rw=$1 py=$2 repo=$3
shift 3
[ $# -gt 0 ] || set -- tests/vm/guest
cut -d' ' -f1 /proc/uptime >"$rw/boot-uptime"
export OPENRAS_VM_GUEST=1
PATH="$(dirname "$py"):$PATH"
export PATH
cd "$repo" || exit 1
# The repo is read-only here: no cache provider, a base temp of the guest's own, and a longer
# per-test timeout (TCG runs Python 5-10x slower; rasman takes 10-30 s to start). No guest
# test uses hypothesis, whose plugin alone costs about 14 s of imports under TCG.
"$py" -m pytest -m vm -p no:cacheprovider -p no:hypothesispytest \
  -o timeout=300 -o junit_logging=all \
  --basetemp=/tmp/openras-vm-guest --junitxml="$rw/junit.xml" -v "$@" >"$rw/pytest.out" 2>&1
echo $? >"$rw/rc"
cut -d' ' -f1 /proc/uptime >"$rw/end-uptime"
touch "$rw/done"
