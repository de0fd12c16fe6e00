#!/usr/bin/env bash
# Make a Docker engine reachable on this machine. Idempotent.
#  - engine already answers `docker info`: do nothing;
#  - else install docker.io and debootstrap from Debian (apt-get update only
#    when needed), start dockerd in the background (log: /tmp/dockerd.log)
#    and wait up to ENGINE_TIMEOUT seconds (default 60) for it to answer.
# Needs root. Exits non-zero with a message if the engine never comes up.
set -euo pipefail

LOG=${DOCKERD_LOG:-/tmp/dockerd.log}
TIMEOUT=${ENGINE_TIMEOUT:-60}

say() { echo "[engine] $*" >&2; }
die() { say "ERROR: $*"; exit 1; }
engine_up() { docker info >/dev/null 2>&1; }

if command -v docker >/dev/null 2>&1 && engine_up; then
    say "engine already reachable"
    exit 0
fi

[ "$(id -u)" -eq 0 ] || die "must run as root to install/start dockerd"

# One installer/starter at a time; a second caller then finds it up.
exec 9>/tmp/preflight-engine.lock
flock 9
if engine_up; then
    say "engine reachable"
    exit 0
fi

# --- packages --------------------------------------------------------------
missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)

has_candidate() {  # apt knows a candidate version for package $1
    local c
    c=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}')
    [ -n "$c" ] && [ "$c" != "(none)" ]
}

apt_install() {
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
}

if [ ${#missing[@]} -gt 0 ]; then
    say "installing: ${missing[*]}"
    updated=0
    for p in "${missing[@]}"; do
        if ! has_candidate "$p"; then
            say "apt lists lack $p: apt-get update"
            apt-get update -q
            updated=1
            break
        fi
    done
    if ! apt_install "${missing[@]}"; then
        # stale package lists give 404s on download: refresh once and retry
        [ "$updated" -eq 0 ] || die "apt-get install ${missing[*]} failed"
        say "install failed; apt-get update and retry"
        apt-get update -q
        apt_install "${missing[@]}" || die "apt-get install ${missing[*]} failed"
    fi
fi
command -v dockerd >/dev/null 2>&1 || die "dockerd not found after install"
command -v docker >/dev/null 2>&1 || die "docker client not found after install"

# --- daemon ----------------------------------------------------------------
# The package's postinst may have started one; a second run may find one
# still starting. Start our own only if no dockerd process exists.
if engine_up; then
    say "engine reachable"
    exit 0
fi
if pgrep -x dockerd >/dev/null 2>&1; then
    say "dockerd already running (pid $(pgrep -x dockerd | tr '\n' ' ')); waiting for it"
else
    say "starting dockerd (log: $LOG)"
    # setsid: own session, so it outlives this script and its caller's job
    setsid dockerd --storage-driver=overlay2 </dev/null >>"$LOG" 2>&1 9>&- &
fi

deadline=$((SECONDS + TIMEOUT))
until engine_up; do
    if ! pgrep -x dockerd >/dev/null 2>&1; then
        say "dockerd exited; last lines of $LOG:"
        tail -n 30 "$LOG" >&2 || true
        die "dockerd failed to start"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
        say "last lines of $LOG:"
        tail -n 30 "$LOG" >&2 || true
        die "engine not reachable after ${TIMEOUT}s"
    fi
    sleep 0.5
done
say "engine reachable after $((SECONDS))s: $(docker version --format 'server {{.Server.Version}}, client {{.Client.Version}}' 2>/dev/null || true)"
