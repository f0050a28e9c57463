#!/usr/bin/env bash
# Brings up a kubelab cluster in this machine's Docker, as kind does: builds the
# binaries and images here (no registry needed), starts etcd, the control plane
# and three kubelets with docker-compose, waits until the three nodes are Ready,
# and adds a `kubelab` context to the kubeconfig ($KUBECONFIG's first file, or
# ~/.kube/config), keeping its other contexts, so kubectl works with no flags.
# Run it again after a change: it rebuilds what changed and keeps the cluster's objects.
#
#   ./deploy/up.sh [--profile release|debug]     (debug reuses a test build, as CI does)
#   KUBELAB_UP_TIMEOUT=120                       seconds to wait for the nodes
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=deploy/common.sh
. deploy/common.sh

profile=$(profile_arg "$@")
server=http://127.0.0.1:6443
kubectl=$(bin_dir "$profile")/kubectl

./deploy/install-deps.sh >/dev/null
./deploy/build-images.sh --profile "$profile"
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
compose up --detach --remove-orphans

# Nodes that are Ready and whose kubelet renewed the node's lease since this
# start: after a restart, the stored Nodes say Ready until the lease runs out.
ready_nodes() {
  local ready='.status.conditions[?(@.type=="Ready")].status'
  {
    "$kubectl" --server "$server" get nodes -o jsonpath="{range .items[*]}node {.metadata.name} {$ready}{\"\\n\"}{end}"
    "$kubectl" --server "$server" get leases --namespace kube-node-lease \
      -o jsonpath='{range .items[*]}lease {.metadata.name} {.spec.renewTime}{"\n"}{end}'
  } 2>/dev/null | awk -v since="$started" '
    $1 == "node" && $3 == "True" { ready[$2] = 1 }
    $1 == "lease" && $3 >= since { renewed[$2] = 1 }
    END { for (n in ready) if (n in renewed) count++; print count + 0 }'
}
echo "waiting for 3 nodes to be Ready"
deadline=$((SECONDS + ${KUBELAB_UP_TIMEOUT:-120}))
until [ "$(ready_nodes)" -ge 3 ]; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "the nodes did not become Ready in time:" >&2
    compose ps >&2
    compose logs --tail 20 >&2
    exit 1
  fi
  sleep 1
done

"$kubectl" config set-cluster kubelab --server="$server" >/dev/null
"$kubectl" config set-context kubelab --cluster=kubelab --namespace=default >/dev/null
"$kubectl" config use-context kubelab >/dev/null
kubeconfig=${KUBECONFIG:-$HOME/.kube/config}
echo "kubelab is up: apiserver at $server; context \"kubelab\", now current, in ${kubeconfig%%:*}"
"$kubectl" get nodes
