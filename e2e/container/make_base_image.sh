#!/bin/sh
# Builds localhost/mlb-<suite>-base:latest (suite: bookworm by default, or trixie) from
# Debian's own packages (debootstrap), for machines that cannot pull from a registry.
# Does nothing when it exists.
set -eu
SUITE=${1:-bookworm}
P="podman --runtime runc --cgroup-manager=cgroupfs"
IMAGE=localhost/mlb-$SUITE-base:latest
if $P image exists "$IMAGE"; then exit 0; fi
MIRROR=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)
MIRROR=${MIRROR:-http://deb.debian.org/debian}
ROOTFS=$(mktemp -d /tmp/mlb-rootfs.XXXXXX)
trap 'rm -rf "$ROOTFS"' EXIT
debootstrap --variant=minbase "$SUITE" "$ROOTFS" "$MIRROR" >/dev/null
tar -C "$ROOTFS" -c . | $P import - "$IMAGE" >/dev/null
echo "built $IMAGE"
