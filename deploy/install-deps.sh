#!/usr/bin/env bash
# Installs what building and testing kubelab needs on a Debian machine:
# protoc (for the gRPC code), etcd (the store the tests run against), and,
# through tools.sh, the real Kubernetes clients the tests drive.
# Safe to run again: it installs only what is missing.
set -euo pipefail
# shellcheck source=deploy/common.sh
. "$(dirname "$0")/common.sh"

missing=()
command -v protoc >/dev/null 2>&1 || missing+=(protobuf-compiler)
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
command -v busybox >/dev/null 2>&1 || missing+=(busybox-static)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
# tools.sh builds a virtualenv and fetches a wheel with pip.
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv python3-pip)

apt_install "${missing[@]}"
# Debian's package starts no etcd here (no systemd), and kubelab starts its own; stop a stray one if present.
protoc --version
# sed reads all of its input: `head -1` may close the pipe before etcd has
# written its last line, and under pipefail that SIGPIPE fails the script.
etcd --version | sed -n 1p
"$(dirname "$0")/tools.sh"
