# shellcheck shell=bash
# Sourced by the deploy scripts: the cargo profile they build with, where its
# binaries land, docker-compose on the kubelab project from the repo's root,
# and installing Debian packages.

# The target directory of a --profile value: release (the default) or debug,
# under cargo's CARGO_TARGET_DIR when set.
bin_dir() {
  case "$1" in
    release) echo "${CARGO_TARGET_DIR:-target}/release" ;;
    debug) echo "${CARGO_TARGET_DIR:-target}/debug" ;;
    *) echo "unknown profile '$1': use release or debug" >&2; return 2 ;;
  esac
}

# The value of --profile among the arguments, release when none is given.
profile_arg() {
  local profile=release
  while [ $# -gt 0 ]; do
    case "$1" in
      --profile) profile=${2:-}; shift ;;
      --profile=*) profile=${1#--profile=} ;;
      *) echo "unknown argument '$1'" >&2; return 2 ;;
    esac
    shift
  done
  bin_dir "$profile" >/dev/null && echo "$profile"
}

compose() {
  docker-compose --project-name kubelab --file docker-compose.yml "$@"
}

# Installs the given Debian packages (none: does nothing), with sudo unless root.
apt_install() {
  [ $# -gt 0 ] || return 0
  echo "installing: $*"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}
