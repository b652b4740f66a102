#!/usr/bin/env bash
# Stop the private cluster that .ci/slurm-up.sh started, by PID (never by name): cancel
# every job and wait for them to end, stop slurmd, slurmctld and munged from their pid
# files, then kill any slurmstepd left behind whose environment carries this cluster's
# SLURM_CONF, with its job's processes. Bounded waits; SIGKILL after LODE_SLURM_TIMEOUT s.
#
#   bash .ci/slurm-down.sh [--purge]     # --purge: also delete $LODE_SLURM_DIR
#
# Idempotent: with nothing running it says so and exits 0. Exit 1 if a daemon survives.
set -uo pipefail

DIR="${LODE_SLURM_DIR:-/tmp/lode-slurm}"
TIMEOUT="${LODE_SLURM_TIMEOUT:-30}"
CONF="$DIR/slurm.conf"
export SLURM_CONF="$CONF"

log() { printf 'slurm-down: %s\n' "$*" >&2; }

alive_pid() {  # alive_pid PID -> 0 if PID is a live process (a zombie counts as gone)
    local st
    [ -n "$1" ] && [ -r "/proc/$1/stat" ] || return 1
    st="$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)"
    [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}
pid_named() {  # pid_named PIDFILE NAME -> the pid in PIDFILE if that process is NAME
    local pid
    pid="$(cat "$1" 2>/dev/null || true)"
    if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ]; then
        echo "$pid"
    fi
}

stop_pid() {  # stop_pid NAME PID -> TERM, wait, KILL
    local name="$1" pid="$2" deadline
    alive_pid "$pid" || return 0
    log "stopping $name (pid $pid)"
    kill "$pid" 2>/dev/null || true
    deadline=$((SECONDS + TIMEOUT))
    while alive_pid "$pid" && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
    if alive_pid "$pid"; then
        log "$name (pid $pid) ignored SIGTERM for ${TIMEOUT}s: SIGKILL"
        kill -9 "$pid" 2>/dev/null || true
        sleep 0.2
    fi
}

ctld_pid="$(pid_named "$DIR/run/slurmctld.pid" slurmctld)"
d_pid="$(pid_named "$DIR/run/slurmd.pid" slurmd)"
munge_pid="$(pid_named "$DIR/munge/munged.pid" munged)"

# 1. cancel every job while the controller runs, and wait until none is left running
if [ -f "$CONF" ] && alive_pid "$ctld_pid" && scontrol ping >/dev/null 2>&1; then
    mapfile -t jobs < <(squeue -h -o %i 2>/dev/null)
    if [ "${#jobs[@]}" -gt 0 ]; then
        log "cancelling jobs: ${jobs[*]}"
        scancel "${jobs[@]}" 2>/dev/null || true
        # without a live slurmd the jobs can never end: step 3 kills what is left
        if alive_pid "$d_pid"; then deadline=$((SECONDS + TIMEOUT)); else deadline=0; fi
        while [ -n "$(squeue -h -t running,completing,configuring,suspended -o %i 2>/dev/null)" ] \
            && [ "$SECONDS" -lt "$deadline" ]; do
            sleep 0.2
        done
    fi
fi

# 2. the daemons, from their pid files: slurmd and slurmctld get SIGTERM together (each
#    takes 1-3 s to exit), munged last, as the other two talk to it until they exit
if alive_pid "$d_pid"; then
    log "SIGTERM to slurmd (pid $d_pid)"
    kill "$d_pid" 2>/dev/null || true
fi
stop_pid slurmctld "$ctld_pid"
stop_pid slurmd "$d_pid"
stop_pid munged "$munge_pid"

# 3. job step daemons left behind when slurmd died with jobs running (a slurmstepd's
#    parent is init, not slurmd, and it ignores SIGTERM): only those whose environment
#    carries this cluster's SLURM_CONF, each with its job's processes (its descendants)
descendants() {  # descendants PID -> every descendant pid, one per line
    ps -eo pid=,ppid= | awk -v root="$1" '
        { parent[$1] = $2 }
        END { want[root] = 1; changed = 1
              while (changed) { changed = 0
                  for (p in parent) if (!(p in want) && (parent[p] in want)) { want[p] = 1; changed = 1 } }
              for (p in want) if (p != root) print p }'
}
for env in /proc/[0-9]*/environ; do
    pid="${env#/proc/}"; pid="${pid%/environ}"
    exe="$(readlink "/proc/$pid/exe" 2>/dev/null || true)"
    case "$exe" in */slurmstepd*) ;; *) continue ;; esac
    tr '\0' '\n' <"$env" 2>/dev/null | grep -qxF "SLURM_CONF=$CONF" || continue
    alive_pid "$pid" || continue
    mapfile -t tree < <(descendants "$pid")
    log "killing the leftover slurmstepd $pid and its job processes: ${tree[*]:-none}"
    kill -9 "$pid" "${tree[@]}" 2>/dev/null || true
done

rm -f "$DIR/run/slurmctld.pid" "$DIR/run/slurmd.pid" "$DIR/munge/munged.pid"

# 4. check
left=""
for pid in "$ctld_pid" "$d_pid" "$munge_pid"; do
    if alive_pid "$pid"; then left="$left $pid"; fi
done
if [ -n "$left" ]; then
    log "ERROR: still running:$left"
    exit 1
fi

if [ "${1:-}" = "--purge" ]; then
    case "$DIR" in /|"") log "refusing to delete '$DIR'"; exit 1 ;; esac
    rm -rf "$DIR"
    log "deleted $DIR"
fi
log "stopped"
