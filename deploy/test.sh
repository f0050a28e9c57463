#!/usr/bin/env bash
# Runs every kubelab test: formatting and lints; the unit tests of each crate;
# the store conformance suite against memory and a real etcd; the end-to-end
# tests that drive the apiserver, controller-manager and kubectl binaries; the
# cluster's up/down life cycle; and the cluster suite, which runs the book's
# commands on the docker-compose cluster (real kubelets, pods on Docker), with
# kubelab's kubectl and with the real clients deploy/tools.sh installs (kubectl
# 1.20 and a current one, the Python client, kube-rs).
#
# The cluster steps use the debug build the tests already made, and a
# throwaway kubeconfig, so the user's own is never touched. They need a
# machine with no kubelab cluster running (./deploy/down.sh -v removes one).
set -euo pipefail
cd "$(dirname "$0")/.."

./deploy/install-deps.sh
cargo fmt --all --check
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings
# The end-to-end tests run the real binaries, so build them first (same profile, shared target/).
cargo build --workspace --bins --locked
cargo test --workspace --locked

./deploy/tests/up-down.sh --profile debug

kubeconfig=$(mktemp)
trap './deploy/down.sh -v >/dev/null 2>&1 || true; rm -f "$kubeconfig"' EXIT
# Short node-failure periods (the grace period twice the lease renewal), so the
# node-failure test sees eviction within seconds.
NODE_MONITOR_GRACE_PERIOD=20s POD_EVICTION_TIMEOUT=10s KUBECONFIG=$kubeconfig ./deploy/up.sh --profile debug
# One suite at a time: the node-failure suite stops a node.
cargo test --locked -p e2e --features cluster --test cluster --test cluster_controllers --test cluster_node_failure \
  --test cluster_restart --test cluster_services --test cluster_kubectl --test cluster_attach --test cluster_volumes \
  --test cluster_storage --test cluster_statefulset --test cluster_images --test cluster_lifecycle --test python_client \
  --test kube_client
