#!/usr/bin/env bash
# Builds the local base image of the docker-kind tests and the e2e workflow:
# FROM scratch with Debian's static busybox (package busybox-static), which
# gives a shell and the usual tools for RUN steps and commands. No registry
# is needed or asked: the build never pulls. Does nothing when the image is
# there already.
#
#   bash scripts/lib/base-image.sh [IMAGE]   # default localhost/conveyor-busybox:latest
#
# Uses WORKER_DOCKER_BIN (default podman) and, for podman, CONTAINERS_CONF.
set -euo pipefail

bin=${WORKER_DOCKER_BIN:-podman}
image=${1:-localhost/conveyor-busybox:latest}
busybox=${BUSYBOX:-/bin/busybox}

if "$bin" image inspect "$image" >/dev/null 2>&1; then
    exit 0
fi
[[ -x "$busybox" ]] || {
    echo "base-image: $busybox is missing (as root on Debian: apt-get install -y busybox-static)" >&2
    exit 1
}
if ldd "$busybox" >/dev/null 2>&1; then
    echo "base-image: $busybox is dynamically linked; install busybox-static" >&2
    exit 1
fi
context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
cp "$busybox" "$context/busybox"
cat >"$context/Containerfile" <<'DOCKERFILE'
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
DOCKERFILE
pull=()
# podman builds can be told never to pull; docker pulls only what is missing
# (and FROM scratch is nothing).
if "$bin" --version 2>/dev/null | grep -qi podman; then pull=(--pull=never); fi
"$bin" build "${pull[@]}" -f "$context/Containerfile" -t "$image" "$context" >/dev/null
echo "base-image: built $image"
