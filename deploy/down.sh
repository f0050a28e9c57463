#!/usr/bin/env bash
# Stops the control plane ./deploy/up.sh started. With -v, also deletes its stored objects.
set -euo pipefail
cd "$(dirname "$0")/.."
state=.kubelab
for p in apiserver etcd; do
  if [ -f "$state/$p.pid" ]; then
    kill "$(cat "$state/$p.pid")" 2>/dev/null || true
    rm -f "$state/$p.pid"
  fi
done
if [ "${1:-}" = "-v" ]; then
  rm -rf "$state"
fi
echo "kubelab is down"
