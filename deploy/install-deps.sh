#!/usr/bin/env bash
# Installs what building and testing kubelab needs on a Debian machine:
# protoc (for the gRPC code) and etcd (the store the tests run against).
# Safe to run again: it installs only what is missing.
set -euo pipefail

missing=()
command -v protoc >/dev/null 2>&1 || missing+=(protobuf-compiler)
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
command -v busybox >/dev/null 2>&1 || missing+=(busybox-static)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)

if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# Debian's package starts no etcd here (no systemd), and kubelab starts its own; stop a stray one if present.
protoc --version
# sed reads all of its input: `head -1` may close the pipe before etcd has
# written its last line, and under pipefail that SIGPIPE fails the script.
etcd --version | sed -n 1p
