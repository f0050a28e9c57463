#!/usr/bin/env bash
# What etcd 3.4's read-buffer copy costs kubelab's creates.
#
# etcd 3.4 begins every transaction that writes by copying its backend's read
# buffer (512 entries of 48 bytes per bucket at least, more after bursts); a
# plain put copies nothing. A create must be a transaction (put only if the
# key is absent), so on etcd 3.4 it costs etcd about twice a put. etcd 3.5
# reads such a transaction's compares from the shared buffer instead.
#
# This builds Debian's etcd 3.4 source twice, as packaged and with
# shared-txn.patch (the 3.5 behaviour, a dozen lines), then runs `bench api`
# against each in turn and prints the creates and CPU rows of every run.
# For study only: kubelab runs Debian's etcd as packaged.
#
# usage: bench/experiments/etcd-shared-txn/run.sh [ROUNDS [BENCH-API-FLAGS...]]
#   ROUNDS  pairs of runs, alternating [default: 3]
#   flags   passed to `bench api` [default: a short run, about 35 s each]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
rounds=${1:-3}
[ $# -gt 0 ] && shift
flags=("$@")
[ ${#flags[@]} -gt 0 ] || flags=(--seconds 6 --pods 100 --list-repeats 2 --watchers 10 --watch-writes 10 --churn-seconds 1)

source=/usr/share/gocode/src/go.etcd.io/etcd
need=()
command -v go >/dev/null 2>&1 || need+=(golang-go)
[ -d "$source" ] || need+=(golang-etcd-server-dev)
# shellcheck source=deploy/common.sh
. "$root/deploy/common.sh"
apt_install "${need[@]}"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src/go.etcd.io"
cp -r "$source" "$work/src/go.etcd.io/"
build() {
  echo "building etcd ($1) ..."
  GO111MODULE=off GOPATH="$work:/usr/share/gocode" GOCACHE="$work/go-cache" GOFLAGS="" \
    go build -o "$work/$1/etcd" go.etcd.io/etcd
}
build packaged
(cd "$work/src/go.etcd.io/etcd" && git apply "$here/shared-txn.patch")
build shared-txn
(cd "$root" && cargo build --release -p bench)

for round in $(seq "$rounds"); do
  for variant in packaged shared-txn; do
    echo "== round $round, etcd $variant"
    # The binary keeps the name etcd: the bench finds etcd's CPU by process name.
    ETCD_BIN="$work/$variant/etcd" "$root/target/release/bench" api "${flags[@]}" 2>/dev/null |
      grep -E '^api +\| (creates/s|CPU per etcd put|CPU per create) ' | cut -d'|' -f2-5
  done
done
