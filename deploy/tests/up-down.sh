#!/usr/bin/env bash
# The cluster's life cycle from a machine with no kubelab images: up.sh builds
# everything and brings three Ready nodes up; kubectl then works with no flags,
# the kubeconfig's other contexts survive, and a kubia pod answers curl from
# inside; down.sh removes its container, and up.sh again brings the pod back;
# down.sh -v leaves no container or volume of the cluster behind, nor its network
# (unless Docker keeps it empty: see down.sh).
# HOME is a temporary folder, so the user's own kubeconfig is never touched.
# It refuses to run while a kubelab cluster exists, since it would take it over.
#
#   ./deploy/tests/up-down.sh [--profile release|debug]
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=deploy/common.sh
. deploy/common.sh

profile=$(profile_arg "$@")
kubectl=$(bin_dir "$profile")/kubectl
images=(kubelab/base kubelab/kubelab kubelab/etcd kubelab/pause busybox
  luksa/kubia luksa/kubia-unhealthy luksa/batch-job luksa/ssd-monitor)

if [ -n "$(docker ps --all --quiet --filter label=com.docker.compose.project=kubelab)" ]; then
  echo "a kubelab cluster exists; remove it with ./deploy/down.sh -v first" >&2
  exit 1
fi
# cargo and rustup keep finding their homes under the real one.
export CARGO_HOME=${CARGO_HOME:-$HOME/.cargo} RUSTUP_HOME=${RUSTUP_HOME:-$HOME/.rustup}
home=$(mktemp -d)
export HOME=$home
unset KUBECONFIG
trap './deploy/down.sh -v >/dev/null 2>&1 || true; rm -rf "$home"' EXIT

passed=0
failed=0
check() {
  local what=$1
  shift
  if "$@"; then
    passed=$((passed + 1))
    echo "ok: $what"
  else
    failed=$((failed + 1))
    echo "FAILED: $what" >&2
  fi
}
none() {
  [ -z "$("$@")" ]
}
ready_nodes() {
  [ "$("$kubectl" get nodes | awk 'NR > 1 && $2 == "Ready"' | wc -l)" -eq 3 ]
}
has_context() {
  # grep reads to the end (no -q): an early exit could SIGPIPE kubectl under pipefail.
  "$kubectl" config get-contexts -o name | grep -x "$1" >/dev/null
}
kubia_answers() {
  local _
  for _ in $(seq 60); do
    [ "$("$kubectl" exec kubia -- curl -s http://localhost:8080 2>/dev/null)" = "You've hit kubia" ] && return 0
    sleep 1
  done
  return 1
}
cluster_pod_containers() {
  docker ps --all --filter label=kubelab.node --format '{{.Label "kubelab.node"}}' | grep '^kubelab-worker' || true
}
absent() {
  ! docker "$@" >/dev/null 2>&1
}
# Gone, or kept empty by Docker's stale endpoint count (see down.sh), which
# nothing but a restart of the Docker daemon clears.
network_gone() {
  absent network inspect kubelab && return 0
  [ "$(docker network inspect kubelab --format '{{len .Containers}}')" = 0 ] || return 1
  echo "note: Docker kept the empty kubelab network (moby/moby#42119)"
}

docker rmi --force "${images[@]}" >/dev/null 2>&1 || true
mkdir -p "$HOME/.kube"
printf '%s\n' 'apiVersion: v1' 'kind: Config' 'current-context: other' \
  'clusters: [{name: other, cluster: {server: "http://127.0.0.1:1"}}]' \
  'contexts: [{name: other, context: {cluster: other}}]' >"$HOME/.kube/config"

start=$SECONDS
./deploy/up.sh --profile "$profile"
echo "up.sh with no images took $((SECONDS - start)) s"
check "three nodes are Ready, seen by kubectl with no flags" ready_nodes
check "the current context is kubelab" [ "$("$kubectl" config current-context)" = kubelab ]
check "the kubeconfig keeps its other context" has_context other
"$kubectl" run kubia --image=luksa/kubia --port=8080 >/dev/null
check "a kubia pod answers curl run in it" kubia_answers

./deploy/down.sh
check "down removes the pod containers" none cluster_pod_containers
start=$SECONDS
./deploy/up.sh --profile "$profile"
echo "up.sh again took $((SECONDS - start)) s"
check "the pod survives down and up, and runs again" kubia_answers

./deploy/down.sh -v
check "no kubelab container is left" none docker ps --all --quiet --filter name=^kubelab-
check "no pod container of the cluster is left" none cluster_pod_containers
check "no container of a kubelab or sample image is left" none sh -c "docker ps --all --format '{{.Image}}' | grep -E '^(kubelab|luksa)/' || true"
check "the kubelab network is gone, or empty" network_gone
check "the etcd volume is gone" absent volume inspect kubelab-etcd-data

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
