#!/usr/bin/env bash
# Brings up a kubelab control plane on this machine: etcd and the apiserver,
# as background processes with their data and logs under .kubelab/.
# kubectl (target/release/kubectl) then works with no flags: it talks to
# http://127.0.0.1:6443 when no kubeconfig says otherwise.
#
#   ./deploy/up.sh      start (or restart) the control plane; state in .kubelab/etcd is kept
#   ./deploy/down.sh    stop it (add -v to also delete the stored objects)
set -euo pipefail
cd "$(dirname "$0")/.."

ETCD_PORT=${ETCD_PORT:-2379}
ETCD_PEER_PORT=${ETCD_PEER_PORT:-2380}
API_LISTEN=${API_LISTEN:-127.0.0.1:6443}
state=.kubelab
mkdir -p "$state"

./deploy/install-deps.sh >/dev/null
cargo build --release -p apiserver -p kubectl

stop() { [ -f "$state/$1.pid" ] && kill "$(cat "$state/$1.pid")" 2>/dev/null; rm -f "$state/$1.pid"; }
stop apiserver || true
stop etcd || true
sleep 0.5

# etcd's default request limit is exactly 1.5 MiB; kubelab stores objects up to
# 1.5 MiB, so etcd gets a little headroom for the key and the request envelope.
etcd --name kubelab --data-dir "$state/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "kubelab=http://127.0.0.1:$ETCD_PEER_PORT" \
  --max-request-bytes 2097152 --auto-compaction-retention 1h \
  >"$state/etcd.log" 2>&1 &
echo $! >"$state/etcd.pid"

target/release/apiserver --etcd-servers "http://127.0.0.1:$ETCD_PORT" --listen "$API_LISTEN" \
  >"$state/apiserver.log" 2>&1 &
echo $! >"$state/apiserver.pid"

for _ in $(seq 1 100); do
  if target/release/kubectl --server "$API_LISTEN" get ns default -o name >/dev/null 2>&1; then
    echo "kubelab is up: apiserver at $API_LISTEN, etcd at 127.0.0.1:$ETCD_PORT (logs in $state/)"
    target/release/kubectl --server "$API_LISTEN" get ns
    exit 0
  fi
  sleep 0.2
done
echo "the apiserver did not come up; see $state/apiserver.log and $state/etcd.log" >&2
exit 1
