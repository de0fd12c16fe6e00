#!/usr/bin/env bash
# Build a wheelhouse so images can `pip install --no-index --find-links DIR`.
#   usage: docker/wheels.sh OUTDIR [REQUIREMENT...]
# Builds wheels for the project at the repo root (PROJECT_DIR overrides it)
# and all its dependencies, plus any extra requirements (e.g. fastapi
# uvicorn gunicorn), with the host's Python (PYTHON, default python3).
# Then checks every wheel installs on the images' Python: Debian bookworm's
# CPython 3.11 on glibc 2.36 x86_64 (override: TARGET_PY=3.11 TARGET_GLIBC=2.36).
set -euo pipefail

say() { echo "[wheels] $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

[ $# -ge 1 ] || die "usage: $0 OUTDIR [REQUIREMENT...]"
OUT=$1; shift
PY=${PYTHON:-python3}
ROOT=${PROJECT_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
[ -f "$ROOT/pyproject.toml" ] || [ -f "$ROOT/setup.py" ] || die "no pyproject.toml in $ROOT"

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# Build from a clean copy: setuptools writes build/ and *.egg-info into the
# source tree, and a stale build/lib can leak deleted modules into the wheel.
SRC=$(mktemp -d /tmp/preflight-wheelsrc.XXXXXX)
trap 'rm -rf "$SRC"' EXIT
if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    # tracked + untracked-but-not-ignored files, as they are in the work tree
    (cd "$ROOT" && git ls-files -z -co --exclude-standard \
        | tar --null --ignore-failed-read -T - -cf - 2>/dev/null) | tar -C "$SRC" -xf -
else
    tar -C "$ROOT" --exclude=./.git --exclude=./build --exclude='*.egg-info' -cf - . | tar -C "$SRC" -xf -
fi

start=$SECONDS
say "pip wheel $ROOT $* -> $OUT"
"$PY" -m pip wheel --disable-pip-version-check --progress-bar off -q \
    --wheel-dir "$OUT" "$SRC" "$@" || die "pip wheel failed"
say "built in $((SECONDS - start))s"

# Every wheel must carry a tag the images' interpreter accepts.
"$PY" - "$OUT" "${TARGET_PY:-3.11}" "${TARGET_GLIBC:-2.36}" <<'PYEOF' || die "wheelhouse has wheels the image cannot install"
import pathlib, sys
try:
    from packaging.tags import cpython_tags, compatible_tags
    from packaging.utils import parse_wheel_filename
except ImportError:  # pip vendors packaging
    from pip._vendor.packaging.tags import cpython_tags, compatible_tags
    from pip._vendor.packaging.utils import parse_wheel_filename

out, pyver, glibc = sys.argv[1], sys.argv[2], sys.argv[3]
ver = tuple(int(x) for x in pyver.split("."))
gmax = int(glibc.split(".")[1])
# linux_x86_64 = built here from an sdist, on the same glibc as the image
plats = [f"manylinux_2_{m}_x86_64" for m in range(gmax, 4, -1)] + [
    "manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64", "linux_x86_64"]
ok = set(cpython_tags(ver, platforms=plats)) | set(compatible_tags(ver, platforms=plats))
bad = []
wheels = sorted(pathlib.Path(out).glob("*.whl"))
for w in wheels:
    _, _, _, tags = parse_wheel_filename(w.name)
    if not tags & ok:
        bad.append(w.name)
binary = [w.name for w in wheels if not w.name.endswith("-none-any.whl")]
print(f"[wheels] {len(wheels)} wheels; binary: {', '.join(binary) or 'none'}", file=sys.stderr)
for b in bad:
    print(f"[wheels] not installable on CPython {pyver} / glibc {glibc} x86_64: {b}", file=sys.stderr)
sys.exit(1 if bad else 0)
PYEOF
