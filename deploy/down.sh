#!/usr/bin/env bash
# Removes the cluster ./deploy/up.sh started: the kubelets first (added nodes
# too), so none replaces the pod containers removed next, then every pod
# container they started, the control plane and the pod network. etcd's volume,
# and so the cluster's objects, stays for the next up unless -v is given.
# The images stay; `docker rmi` removes them.
#
#   ./deploy/down.sh [-v]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=deploy/common.sh
. deploy/common.sh

volumes=()
case "${1:-}" in
  "") ;;
  -v | --volumes) volumes=(--volumes) ;;
  *) echo "usage: $0 [-v]" >&2; exit 2 ;;
esac

# The cluster's nodes: its kubelets' hostnames, and the nodes its pods on the
# kubelab network name, so other kubelets' containers on this machine are spared.
kubelets=$(docker ps --all --quiet --filter label=kubelab.component=kubelet)
nodes=$({
  [ -z "$kubelets" ] || echo "$kubelets" | xargs docker inspect --format '{{.Config.Hostname}}'
  docker ps --all --filter network=kubelab --filter label=kubelab.node --format '{{.Label "kubelab.node"}}'
} | sort -u)
[ -z "$kubelets" ] || echo "$kubelets" | xargs docker rm --force >/dev/null
for node in $nodes; do
  docker ps --all --quiet --filter "label=kubelab.node=$node"
done | xargs --no-run-if-empty docker rm --force >/dev/null
compose down --remove-orphans "${volumes[@]}"
if docker network inspect kubelab >/dev/null 2>&1; then
  docker network rm kubelab >/dev/null
fi
echo "kubelab is down"
