#!/bin/sh
# Debian packages depotdelivery's build, demo and tests use (idempotent).
# strace: the tracing tests; python3-fusepy and fuse3: the CVMFS client
# stand-in (tests/fakes/cvmfs_client.py).
set -eu
need=""
for p in gcc binutils git python3-venv util-linux mount sudo debootstrap strace python3-fusepy fuse3; do
    dpkg -s "$p" >/dev/null 2>&1 || need="$need $p"
done
if [ -n "$need" ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
fi
