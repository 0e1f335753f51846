#!/usr/bin/env bash
# Start a single-node Slurm (Debian's slurm-wlm 22.05 + munge) on this host, as root and without systemd, for the
# Slurm executor's test and CI (see docs/scale.md). Idempotent: exits 0 at once when `sinfo` already answers.
#
#   scripts/slurm-up.sh            # start (or find) it; prints the partition name on stdout
#   scripts/slurm-up.sh --down     # stop the daemons this script started
#
# Needs: root, and `apt-get install -y --no-install-recommends slurm-wlm munge` (.ci/run does it). The daemons'
# state, spool, pid and log files live in $SLURM_UP_DIR (default /tmp/persona-kit-slurm); slurm.conf goes to
# /etc/slurm/slurm.conf, which this script writes only when there is none (a real cluster's is never touched).
# Exit status: 0 running, 1 could not start (the reason on stderr).
set -euo pipefail
DIR="${SLURM_UP_DIR:-/tmp/persona-kit-slurm}"
CONF=/etc/slurm/slurm.conf
PARTITION=debug
fail() { echo "slurm-up: $*" >&2; exit 1; }

if [ "${1:-}" = "--down" ]; then
  for p in slurmd slurmctld munged; do
    # shellcheck disable=SC2046 # one pid a line
    [ -f "$DIR/$p.pid" ] && kill $(cat "$DIR/$p.pid") 2>/dev/null || true
  done
  exit 0
fi

if command -v sinfo >/dev/null 2>&1 && [ "$(timeout 5 sinfo -h -o %T 2>/dev/null | head -1)" = "idle" ]; then
  timeout 5 sinfo -h -o %R | head -1
  exit 0
fi
[ "$(id -u)" = "0" ] || fail "needs root to start munged, slurmctld and slurmd (running as uid $(id -u))"
for b in munged slurmctld slurmd sinfo sbatch; do
  command -v "$b" >/dev/null 2>&1 || [ -x "/usr/sbin/$b" ] || fail "$b is not installed (apt-get install -y --no-install-recommends slurm-wlm munge)"
done
[ -f /etc/munge/munge.key ] || fail "/etc/munge/munge.key is missing (the munge package creates it)"

mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log"
# munge: its socket folder must exist and belong to munge before munged starts.
mkdir -p /run/munge && chown munge:munge /run/munge && chmod 755 /run/munge
if ! pgrep -u munge -x munged >/dev/null 2>&1; then
  runuser -u munge -- /usr/sbin/munged
  pgrep -u munge -x munged > "$DIR/munged.pid" || true
fi

if [ ! -f "$CONF" ]; then
  # The node line exactly as slurmd sees the hardware (so the node is not drained for a mismatch).
  node=$(/usr/sbin/slurmd -C | head -1)
  host=$(hostname -s)
  cat > "$CONF" <<EOF
# Written by persona-kit scripts/slurm-up.sh: a single-node cluster for tests.
ClusterName=personakit
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
MailProg=/bin/true
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ReturnToService=2
MinJobAge=30
$node State=UNKNOWN
PartitionName=$PARTITION Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
fi

pgrep -x slurmctld >/dev/null 2>&1 || /usr/sbin/slurmctld
pgrep -x slurmd >/dev/null 2>&1 || /usr/sbin/slurmd
for _ in $(seq 1 100); do
  state=$(timeout 5 sinfo -h -o %T 2>/dev/null | head -1 || true)
  if [ "$state" = "idle" ]; then
    timeout 5 sinfo -h -o %R | head -1
    exit 0
  fi
  sleep 0.2
done
fail "the node did not become idle within 20 s (sinfo says ${state:-nothing}); see $DIR/log/"
