#!/usr/bin/env bash
# Runs every kubelab test: formatting and lints, unit tests of each crate, the
# store conformance suite against memory and a real etcd, and the end-to-end
# tests that drive the apiserver and kubectl binaries.
set -euo pipefail
cd "$(dirname "$0")/.."

./deploy/install-deps.sh
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The end-to-end tests run the real binaries, so build them first (same profile, shared target/).
cargo build --workspace --bins --locked
cargo test --workspace --locked
