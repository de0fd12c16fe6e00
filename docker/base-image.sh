#!/usr/bin/env bash
# Build the Debian bookworm base image with python3, venv and pip, without a
# Docker registry: debootstrap a minbase rootfs from this machine's own
# Debian mirror (read from its apt sources) and `docker import` it.
#   usage: docker/base-image.sh [TAG]      (default TAG: preflight-base:bookworm)
# Cached by tag: if TAG exists, nothing is done. Needs root and a running
# engine (docker/engine.sh). Env: DEBIAN_MIRROR overrides the mirror,
# DEBIAN_SUITE (default bookworm).
set -euo pipefail

TAG=${1:-preflight-base:bookworm}
SUITE=${DEBIAN_SUITE:-bookworm}
PKGS=python3,python3-venv,python3-pip

say() { echo "[base-image] $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

docker info >/dev/null 2>&1 || die "Docker engine not reachable (run docker/engine.sh first)"

# Serialize concurrent callers (e.g. parallel test workers) on one lock.
exec 9>"/tmp/preflight-base-image.lock"
flock 9

if docker image inspect "$TAG" >/dev/null 2>&1; then
    say "image $TAG exists: skipping build"
    exit 0
fi
command -v debootstrap >/dev/null 2>&1 || die "debootstrap not installed (docker/engine.sh installs it)"

# --- which Debian mirror does this machine's apt use? ----------------------
# First `deb` source whose suites include exactly $SUITE, from one-line
# (sources.list, *.list) or deb822 (*.sources) files, in apt's order.
mirror_from_files() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk -v s="$SUITE" -v f="$f" '
            /^[[:space:]]*deb[[:space:]]/ {
                sub(/#.*/, ""); sub(/\[[^]]*\]/, "")   # comments, [options]
                if ($3 == s) { print $2 "\t" f; exit }
            }' "$f"
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk -v s="$SUITE" -v f="$f" '
            function flush() {
                if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " s " ") && enabled != "no" && uri != "")
                    { print uri "\t" f; found = 1 }
                types = suites = uri = ""; enabled = "yes"
            }
            BEGIN { enabled = "yes" }
            /^[[:space:]]*#/ { next }
            /^[[:space:]]*$/ { flush(); if (found) exit; next }
            {
                key = tolower($1); sub(/:$/, "", key); $1 = ""; sub(/^ +/, "")
                if (key == "types") types = $0
                else if (key == "uris") { split($0, u, " "); uri = u[1] }
                else if (key == "suites") suites = $0
                else if (key == "enabled") enabled = tolower($0)
            }
            END { if (!found) flush() }' "$f"
    done
}

if [ -n "${DEBIAN_MIRROR:-}" ]; then
    MIRROR=$DEBIAN_MIRROR; SRC="DEBIAN_MIRROR env"
else
    line=$(mirror_from_files); line=${line%%$'\n'*}   # first match
    if [ -z "$line" ]; then
        # let apt itself parse whatever format is configured
        # shellcheck disable=SC2016  # $(...) are apt format fields
        line=$(apt-get indextargets --no-release-info --format '$(REPO_URI)	$(RELEASE)' 2>/dev/null \
               | awk -F'\t' -v s="$SUITE" '$2 == s { print $1 "\tapt-get indextargets"; exit }')
    fi
    [ -n "$line" ] || die "no apt source for suite '$SUITE' found; set DEBIAN_MIRROR"
    MIRROR=${line%%$'\t'*}; SRC=${line#*$'\t'}
fi
MIRROR=${MIRROR%/}
say "mirror: $MIRROR (from $SRC)"

# --- debootstrap into a temporary rootfs ------------------------------------
ROOTFS=$(mktemp -d /var/tmp/preflight-rootfs.XXXXXX)
cleanup() {
    # a failed debootstrap can leave /proc, /sys etc. mounted inside
    awk -v r="$ROOTFS" '$2 == r || index($2, r "/") == 1 { print $2 }' /proc/mounts \
        | sort -r | while read -r m; do umount -l "$m" || true; done
    rm -rf --one-file-system "$ROOTFS"
}
trap cleanup EXIT

start=$SECONDS
say "debootstrap --variant=minbase --include=$PKGS $SUITE -> $ROOTFS"
if ! debootstrap --variant=minbase --include="$PKGS" "$SUITE" "$ROOTFS" "$MIRROR" \
        >"$ROOTFS.log" 2>&1; then
    tail -n 40 "$ROOTFS.log" >&2
    [ -f "$ROOTFS/debootstrap/debootstrap.log" ] && tail -n 40 "$ROOTFS/debootstrap/debootstrap.log" >&2
    rm -f "$ROOTFS.log"
    die "debootstrap failed"
fi
rm -f "$ROOTFS.log"
say "debootstrap done in $((SECONDS - start))s"

# slim down: package caches and lists are not needed in the image
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/* \
       "$ROOTFS"/var/cache/debconf/*-old "$ROOTFS"/var/log/*.log
[ -x "$ROOTFS/usr/bin/python3" ] || die "rootfs has no /usr/bin/python3"

tar --numeric-owner -C "$ROOTFS" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    --message "debootstrap $SUITE minbase + $PKGS" \
    - "$TAG" >/dev/null

# --- check it -----------------------------------------------------------------
if ! out=$(docker run --rm "$TAG" python3 -c 'import sys, venv, ensurepip; print(1)' 2>&1) || [ "$out" != 1 ]; then
    docker image rm "$TAG" >/dev/null 2>&1 || true
    die "image $TAG failed its check: $out"
fi
say "built $TAG in $((SECONDS - start))s: $(docker run --rm "$TAG" python3 --version), $(docker image inspect -f '{{.Size}}' "$TAG" | awk '{printf "%.0f MB", $1/1e6}')"
