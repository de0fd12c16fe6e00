#!/usr/bin/env bash
# End-to-end check of the Docker infrastructure: engine, base image, offline
# wheelhouse, then an image FROM the base whose venv gets fastapi + uvicorn
# (and this project) with `pip install --no-index`, serving HTTP 200.
#   usage: docker/smoke.sh          (needs root; leaves dockerd running)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BASE=${BASE_TAG:-preflight-base:bookworm}
TAG=preflight-smoke:latest
say() { echo "[smoke] $*" >&2; }

bash "$HERE/engine.sh"
t=$SECONDS; bash "$HERE/base-image.sh" "$BASE"; say "base image: $((SECONDS - t))s"

CTX=$(mktemp -d /tmp/preflight-smoke.XXXXXX)
CID=
cleanup() {
    [ -z "$CID" ] || docker rm -f "$CID" >/dev/null 2>&1 || true
    rm -rf "$CTX"
}
trap cleanup EXIT

t=$SECONDS; bash "$HERE/wheels.sh" "$CTX/wheelhouse" fastapi uvicorn; say "wheelhouse: $((SECONDS - t))s"
printf '%s\n' 'from fastapi import FastAPI' 'app = FastAPI()' \
    '@app.get("/")' 'def root() -> dict: return {"ok": True}' >"$CTX/app.py"
cat >"$CTX/Dockerfile" <<DOCKERFILE
FROM $BASE
RUN python3 -m venv /opt/venv
COPY wheelhouse /wheelhouse
RUN /opt/venv/bin/pip install --no-index --find-links /wheelhouse fastapi uvicorn preflight-gate
COPY app.py /app/app.py
WORKDIR /app
CMD ["/opt/venv/bin/uvicorn", "app:app", "--host", "0.0.0.0", "--port", "8000"]
DOCKERFILE

t=$SECONDS
DOCKER_BUILDKIT=0 docker build -q -t "$TAG" "$CTX" >/dev/null
say "image build: $((SECONDS - t))s"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
CID=$(docker run -d -p "127.0.0.1:$PORT:8000" "$TAG")
if python3 - "$PORT" <<'PY'; then say "HTTP 200 from 127.0.0.1:$PORT"; else docker logs "$CID" >&2; exit 1; fi
import sys, time, urllib.request
url, deadline = f"http://127.0.0.1:{sys.argv[1]}/", time.monotonic() + 30
while True:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            body = r.read()
            sys.exit(0 if r.status == 200 and b'"ok":true' in body else 1)
    except OSError:
        if time.monotonic() > deadline:
            print(f"[smoke] no answer from {url}", file=sys.stderr); sys.exit(1)
        time.sleep(0.2)
PY
docker stop -t 5 "$CID" >/dev/null
say "OK"
