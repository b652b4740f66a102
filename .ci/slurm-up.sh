#!/usr/bin/env bash
# Start a private single-node Slurm cluster on 127.0.0.1 for the Slurm executor's tests,
# without systemd: munged, slurmctld and slurmd, all as root, every file under one
# private directory, configured by $LODE_SLURM_DIR/slurm.conf (SLURM_CONF points at it).
# Nothing global changes: no /etc/slurm/slurm.conf, no /run/munge, no system munge key.
#
#   eval "$(bash .ci/slurm-up.sh)"     # stdout holds only `export ...` lines
#
# Idempotent: daemons already running (live pid files) are kept, and the script only
# waits until the node is idle and a probe job has run. Every wait is bounded. When the
# cluster cannot start it exits 1 with the reason (a line "slurm-up: ERROR: ...") and
# the tails of the daemons' logs on stderr, after stopping what it started itself.
#
# Knobs (environment):
#   LODE_SLURM_DIR        private directory              [/tmp/lode-slurm]
#   LODE_SLURM_CTLD_PORT  slurmctld port on 127.0.0.1    [16817]
#   LODE_SLURM_D_PORT     slurmd port on 127.0.0.1       [16818]
#   LODE_SLURM_TIMEOUT    seconds to wait for each stage [30]
#   LODE_SLURM_PROBE=0    skip the probe job
# The ports are not Slurm's usual 6817/6818, so that a system Slurm is never disturbed.
set -uo pipefail

DIR="${LODE_SLURM_DIR:-/tmp/lode-slurm}"
CTLD_PORT="${LODE_SLURM_CTLD_PORT:-16817}"
D_PORT="${LODE_SLURM_D_PORT:-16818}"
TIMEOUT="${LODE_SLURM_TIMEOUT:-30}"
NODE=localhost
CONF="$DIR/slurm.conf"
PACKAGES="slurmctld slurmd slurm-client munge"

log() { printf 'slurm-up: %s\n' "$*" >&2; }
started=()   # "name:pidfile" of the daemons this run started, stopped again on failure

alive() {  # alive PIDFILE NAME -> 0 if the pid in PIDFILE is a live (not zombie) NAME
    local pid st
    pid="$(cat "$1" 2>/dev/null || true)"
    [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
    # a daemon killed a moment ago is a zombie until init reaps it: kill -0 still succeeds
    st="$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)"
    [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ] || return 1
    # a stale pid file may name a pid that another program reuses
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ]
}

cleanup_started() {
    local item name pidfile pid
    for item in "${started[@]}"; do
        name="${item%%:*}"; pidfile="${item#*:}"
        pid="$(cat "$pidfile" 2>/dev/null || true)"
        if alive "$pidfile" "$name"; then
            log "stopping $name (pid $pid), which this run started"
            kill "$pid" 2>/dev/null || true
        fi
    done
}

die() {
    log "ERROR: $*"
    local f
    for f in "$DIR/log/slurmctld.log" "$DIR/log/slurmd.log" "$DIR/log/munged.log"; do
        if [ -s "$f" ]; then
            printf -- '--- last lines of %s\n' "$f" >&2
            tail -n 15 "$f" >&2
        fi
    done
    cleanup_started
    exit 1
}

wait_for() {  # wait_for SECONDS DESCRIPTION CMD... -> 0 as soon as CMD succeeds
    local secs="$1" what="$2"; shift 2
    local deadline=$((SECONDS + secs))
    while [ "$SECONDS" -lt "$deadline" ]; do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    "$@" >/dev/null 2>&1 && return 0
    log "timed out after ${secs}s waiting for $what"
    return 1
}

port_free() {  # port_free PORT -> 0 if nothing listens on 127.0.0.1:PORT
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# --- prerequisites ---------------------------------------------------------------------
[ "$(id -u)" = 0 ] || die "must run as root (SlurmUser=root; slurmd launches jobs as root)"
for cmd in munged mungekey munge unmunge slurmctld slurmd sbatch squeue sinfo scontrol scancel; do
    command -v "$cmd" >/dev/null 2>&1 \
        || die "'$cmd' not found: apt-get install -y --no-install-recommends $PACKAGES"
done
mkdir -p "$DIR"/{state,spool,log,run,munge} || die "cannot create $DIR"
chmod 700 "$DIR/munge"

# --- munge: a private key and socket, run as root with --force --------------------------
KEY="$DIR/munge/munge.key"
SOCK="$DIR/run/munge.sock"   # in a 0755 directory: munged insists every user can reach it
MUNGE_PID="$DIR/munge/munged.pid"
if [ ! -s "$KEY" ]; then
    mungekey --create --keyfile="$KEY" 2>/dev/null \
        || dd if=/dev/urandom of="$KEY" bs=1 count=1024 status=none \
        || die "cannot create the munge key $KEY"
fi
if ! chown root:root "$KEY" || ! chmod 600 "$KEY"; then die "cannot restrict $KEY to root"; fi

munge_ok() { munge -S "$SOCK" -n </dev/null | unmunge -S "$SOCK" >/dev/null; }
if alive "$MUNGE_PID" munged && munge_ok 2>/dev/null; then
    log "munged already running (pid $(cat "$MUNGE_PID"))"
else
    if alive "$MUNGE_PID" munged; then kill "$(cat "$MUNGE_PID")" 2>/dev/null; sleep 0.5; fi
    rm -f "$SOCK" "$SOCK.lock" "$MUNGE_PID"
    munged --force --socket="$SOCK" --key-file="$KEY" --pid-file="$MUNGE_PID" \
        --log-file="$DIR/log/munged.log" --seed-file="$DIR/munge/munged.seed" \
        || die "munged failed to start"
    started+=("munged:$MUNGE_PID")
    wait_for "$TIMEOUT" "munged to answer on $SOCK" munge_ok || die "munged does not answer"
    log "munged started (pid $(cat "$MUNGE_PID"))"
fi

# --- slurm.conf ------------------------------------------------------------------------
# The node's hardware as slurmd sees it, e.g.
#   NodeName=vm CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2 ThreadsPerCore=1 RealMemory=24105
hw="$(slurmd -C 2>/dev/null | head -n 1)" || true
case "$hw" in NodeName=*) ;; *) die "'slurmd -C' printed no node line: $hw" ;; esac
hw="${hw#NodeName=* }"   # drop the real hostname: the node is called $NODE

# Why the less obvious lines: DefMemPerCPU, or a job without --mem takes the whole node's
# memory (CR_Core_Memory) and jobs run one at a time; EnforcePartLimits=ALL, or a request
# larger than the node stays PENDING for ever instead of being refused by sbatch;
# batch_sched_delay=0 starts jobs within ~1 s instead of ~3 s; MailProg, as there is no
# mail program; jobcomp/filetxt keeps a line per finished job (there is no sacct).
new_conf="$(cat <<EOF
# Written by .ci/slurm-up.sh: a private single-node cluster on 127.0.0.1.
ClusterName=lode
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$D_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SOCK
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/log/jobcomp.txt
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=256
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
ReturnToService=2
EnforcePartLimits=ALL
MinJobAge=300
NodeName=$NODE NodeAddr=127.0.0.1 $hw State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
)"

ctld_pid="$DIR/run/slurmctld.pid"
d_pid="$DIR/run/slurmd.pid"
if [ -f "$CONF" ] && [ "$(cat "$CONF")" != "$new_conf" ] \
    && { alive "$ctld_pid" slurmctld || alive "$d_pid" slurmd; }; then
    log "the configuration changed: restarting slurmctld and slurmd"
    alive "$d_pid" slurmd && kill "$(cat "$d_pid")" 2>/dev/null
    alive "$ctld_pid" slurmctld && kill "$(cat "$ctld_pid")" 2>/dev/null
    both_gone() { ! alive "$d_pid" slurmd && ! alive "$ctld_pid" slurmctld; }
    wait_for "$TIMEOUT" "the old slurm daemons to exit" both_gone \
        || die "the old slurm daemons did not exit"
fi
printf '%s\n' "$new_conf" >"$CONF" || die "cannot write $CONF"
export SLURM_CONF="$CONF"

# --- slurmctld -------------------------------------------------------------------------
if alive "$ctld_pid" slurmctld; then
    log "slurmctld already running (pid $(cat "$ctld_pid"))"
else
    port_free "$CTLD_PORT" \
        || die "port $CTLD_PORT on 127.0.0.1 is taken by another program (set LODE_SLURM_CTLD_PORT)"
    rm -f "$ctld_pid"
    slurmctld || die "slurmctld failed to start"
    started+=("slurmctld:$ctld_pid")
fi
# scontrol ping fails at once when the controller is down (squeue and sinfo hang ~9 s)
wait_for "$TIMEOUT" "slurmctld to answer (scontrol ping)" scontrol ping \
    || die "slurmctld does not answer"
alive "$ctld_pid" slurmctld || die "slurmctld exited"
log "slurmctld up (pid $(cat "$ctld_pid"))"

# --- slurmd ----------------------------------------------------------------------------
if alive "$d_pid" slurmd; then
    log "slurmd already running (pid $(cat "$d_pid"))"
else
    port_free "$D_PORT" \
        || die "port $D_PORT on 127.0.0.1 is taken by another program (set LODE_SLURM_D_PORT)"
    rm -f "$d_pid"
    slurmd -N "$NODE" || die "slurmd failed to start"
    started+=("slurmd:$d_pid")
fi

node_state() { sinfo -h -n "$NODE" -o %T 2>/dev/null; }
node_ready() {
    case "$(node_state)" in idle|mixed|allocated|completing) return 0 ;; esac
    return 1
}
resumed=0
deadline=$((SECONDS + TIMEOUT))
until node_ready; do
    alive "$d_pid" slurmd || die "slurmd exited"
    state="$(node_state)"
    case "$state" in
        drain*|down*|fail*)
            if [ "$resumed" = 0 ]; then
                log "node is '$state' ($(scontrol show node "$NODE" | grep -o 'Reason=.*')): resuming it"
                scontrol update NodeName="$NODE" State=RESUME >&2 || true
                resumed=1
            fi ;;
    esac
    [ "$SECONDS" -lt "$deadline" ] || die "node '$NODE' not idle after ${TIMEOUT}s (state: '$state')"
    sleep 0.2
done
log "node $NODE is $(node_state); slurmd pid $(cat "$d_pid")"

# --- probe: one trivial job must run to completion. It proves munge credentials and the
# launch by slurmd, and absorbs the ~3 s before the first scheduling pass after a start.
if [ "${LODE_SLURM_PROBE:-1}" != 0 ]; then
    probe="$(sbatch --parsable --job-name=slurm-up-probe --chdir="$DIR" --output=/dev/null \
        --mem=16M --time=1 --wrap true 2>&1)" || die "sbatch of the probe job failed: $probe"
    deadline=$((SECONDS + TIMEOUT))
    while :; do
        pstate="$(squeue -h -t all -j "$probe" -o %T 2>/dev/null)"
        [ "$pstate" = COMPLETED ] && break
        case "$pstate" in FAILED|CANCELLED|TIMEOUT|NODE_FAIL|BOOT_FAIL|OUT_OF_MEMORY)
            die "probe job $probe ended $pstate: $(scontrol show job "$probe" | grep -o 'Reason=[^ ]*')" ;;
        esac
        if [ "$SECONDS" -ge "$deadline" ]; then
            scancel "$probe" 2>/dev/null
            die "probe job $probe not COMPLETED after ${TIMEOUT}s (state '$pstate')"
        fi
        sleep 0.1
    done
    log "probe job $probe COMPLETED"
fi

# --- what the caller exports -----------------------------------------------------------
{
    printf 'export SLURM_CONF=%q\n' "$CONF"
    printf 'export LODE_SLURM_DIR=%q\n' "$DIR"
} >"$DIR/env"
cat "$DIR/env"
