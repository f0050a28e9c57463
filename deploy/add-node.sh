#!/usr/bin/env bash
# Adds a node to the running cluster: one more kubelet container named and
# hostnamed NAME, from docker-compose.yml's `node` template, so it has the same
# image, pod network, Docker socket and environment as the three up.sh starts.
# It registers itself within seconds; ./deploy/down.sh removes it with the rest.
#
#   ./deploy/add-node.sh kubelab-worker4
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=deploy/common.sh
. deploy/common.sh

if [ $# -ne 1 ]; then
  echo "usage: $0 NAME" >&2
  exit 2
fi
ADD_NODE_NAME=$1 compose run --detach --no-deps --name "$1" node >/dev/null
# One-off containers get no restart policy from compose; give it the others'.
docker update --restart unless-stopped "$1" >/dev/null
echo "started node $1; see it with: kubectl get nodes"
