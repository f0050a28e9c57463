#!/usr/bin/env bash
# Removes the cluster ./deploy/up.sh started: the kubelets first (added nodes
# too), so none replaces the pod containers removed next, then every pod
# container they started (and their memory volumes), the control plane and the
# pod network. etcd's volume, and so the cluster's objects, and the nodes'
# filesystems (hostPath data, /var/lib/kubelab/nodes and /shared) stay for the next up
# unless -v is given.
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

# One container at a time: Docker 20.10 keeps a count of each network's
# endpoints beside the endpoints, and parallel removals can leave it too high.
remove() {
  xargs --no-run-if-empty --max-args=1 docker rm --force >/dev/null
}
echo "$kubelets" | remove
# A node's pod containers: the app containers first, then the sandboxes whose
# network namespace they share.
pod_containers() {
  local node
  for node in $nodes; do
    docker ps --all --filter "label=kubelab.node=$node" --format '{{.ID}} {{.Label "io.kubernetes.container.name"}}'
  done
}
pod_containers | awk '$2 != "POD" { print $1 }' | remove
pod_containers | awk '{ print $1 }' | remove
# The pods' medium: Memory emptyDirs, free once their containers are gone.
for node in $nodes; do
  docker volume ls --quiet --filter "label=kubelab.node=$node" | xargs --no-run-if-empty docker volume rm >/dev/null
done

# The pod network, which the kubelets may have made themselves. Should that
# count stay above zero, Docker refuses to remove it for "active endpoints"
# that inspect does not list (moby/moby#42119) until the daemon restarts: after
# a few seconds' grace the network then stays, empty, for the next up.sh.
remove_network() {
  local _
  for _ in 1 2 3 4 5; do
    docker network inspect kubelab >/dev/null 2>&1 || return 0
    docker network rm kubelab >/dev/null 2>&1 && return 0
    sleep 1
  done
  if [ "$(docker network inspect kubelab --format '{{len .Containers}}')" != 0 ]; then
    docker network rm kubelab >/dev/null
  fi
  echo "warning: Docker will not remove the empty network kubelab (moby/moby#42119:" \
    "a stale endpoint count, cleared when the Docker daemon restarts); up.sh uses it again" >&2
}

# compose stops at a network it cannot remove, before the volume.
if ! compose down --remove-orphans "${volumes[@]}" && [ ${#volumes[@]} -gt 0 ]; then
  docker volume rm --force kubelab-etcd-data >/dev/null
fi
remove_network
# The nodes' filesystems live on the host, where Docker (root) made them: a
# throwaway container removes them, so this needs no root.
if [ ${#volumes[@]} -gt 0 ]; then
  docker run --rm --volume /var/lib/kubelab:/kubelab busybox:latest rm -rf /kubelab/nodes /kubelab/shared >/dev/null 2>&1 || true
fi
echo "kubelab is down"
