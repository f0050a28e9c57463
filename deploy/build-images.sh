#!/usr/bin/env bash
# Builds every kubelab image on this machine, where no registry can be pulled
# from: cargo builds the binaries once, then each image is assembled FROM scratch,
# or from an image built just before, out of a small context under target/images/.
#
#   kubelab/base      the loader, glibc and the libraries `ldd` lists for the binaries
#   kubelab/kubelab   the component daemons; docker-compose picks one per service; Debian's git
#                     for gitRepo volumes, with mirrors of the book's repositories
#   kubelab/etcd      Debian's etcd
#   kubelab/pause     the pod sandbox
#   busybox           Debian's static busybox, a link per applet
#   luksa/kubia, luksa/kubia-unhealthy, luksa/batch-job, luksa/ssd-monitor   the book's samples
#   luksa/kubia:v1..v4   the Deployment chapter's versions of kubia
#   luksa/kubia-pet   chapter 10's stateful kubia: busybox's nc serving a script
#   luksa/kubia-pet-peers   the same, answering GET with what every pod of the set stores (SRV lookup)
#   mongo             a stand-in for MongoDB on busybox: mongod on 27017, a mongo shell keeping data in /data/db
#   luksa/fortune     Debian's fortune-mod on busybox, writing a fortune every 10 s (also tagged :args and :env)
#   nginx:alpine, nginx   Debian's nginx on busybox, configured as the Docker Hub image
#   tutum/dnsutils    Debian's dig, nslookup and host on busybox (the book's SRV lookup)
#   tutum/curl        Debian's curl and CA certificates on busybox
#
# The Debian packages these images and kubelab/kubelab unpack are downloaded once (apt-get download)
# into target/images/debs and reused from there.
#
# The binaries stay dynamically linked: a static (crt-static) build needs its own
# --target and so a second full build of every dependency, which two cores pay
# for in minutes; copying glibc from this machine costs nothing. Unchanged inputs
# hit docker's build cache, so a second run takes seconds.
#
#   ./deploy/build-images.sh [--profile release|debug]   (debug reuses a test build)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=deploy/common.sh
. deploy/common.sh

profile=$(profile_arg "$@")
bin=$(bin_dir "$profile")
cargo_profile=$profile
[ "$profile" = debug ] && cargo_profile=dev

components=(apiserver scheduler controller-manager kubelet)
packages=()
for p in kubectl samples "${components[@]}"; do
  packages+=(--package "$p")
done
cargo build --profile "$cargo_profile" "${packages[@]}"

out=${CARGO_TARGET_DIR:-target}/images
stripped=$out/bin/$profile
rm -rf "$out/context"
mkdir -p "$out/context" "$stripped"

# The binary without its debug info, stripped again only when cargo rebuilt it.
strip_bin() {
  [ "$stripped/$1" -nt "$bin/$1" ] || strip --strip-debug -o "$stripped/$1" "$bin/$1"
  echo "$stripped/$1"
}

# A fresh build context holding deploy/images/NAME and the files given after it.
context() {
  local dir=$out/context/$1
  mkdir -p "$dir"
  cp -a "deploy/images/$1/." "$dir/"
  shift
  [ $# -eq 0 ] || cp -L "$@" "$dir/"
}

# A root filesystem's skeleton: /etc's few files, /root, a sticky /tmp and
# /var (the book's readiness probe checks for /var/ready, which it creates
# with `kubectl exec <pod> -- touch /var/ready`).
rootfs() {
  mkdir -p "$1/root" "$1/tmp" "$1/var/tmp"
  chmod 1777 "$1/tmp" "$1/var/tmp"
  cp -a deploy/images/etc "$1/"
}

# Builds an image from its context; the image it replaces goes, unless in use.
build() {
  local tag=$1 dir=$out/context/$2 old new
  old=$(docker image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)
  # The quiet build still warns on stderr that the legacy builder is deprecated: show stderr only on failure.
  if ! new=$(docker build --quiet --tag "$tag" "$dir" 2>"$dir.log"); then
    cat "$dir.log" >&2
    exit 1
  fi
  if [ -n "$old" ] && [ "$old" != "$new" ]; then
    docker rmi "$old" >/dev/null 2>&1 || true
  fi
  echo "built $tag"
}

binaries=()
for b in "${components[@]}" kubia curl pause; do
  binaries+=("$(strip_bin "$b")")
done
etcd=$(command -v etcd)

context base
rootfs "$out/context/base/rootfs"
for lib in $(for f in "${binaries[@]}" "$etcd"; do ldd "$f"; done |
  awk '$1 ~ /^\// { print $1 } $2 == "=>" && $3 ~ /^\// { print $3 }' | sort -u); do
  mkdir -p "$out/context/base/rootfs$(dirname "$lib")"
  cp -L "$lib" "$out/context/base/rootfs$lib"
done
build kubelab/base:latest base

busybox=$(command -v busybox)
if ldd "$busybox" >/dev/null 2>&1; then
  echo "$busybox is dynamically linked; the busybox image needs Debian's busybox-static" >&2
  exit 1
fi
context busybox
rootfs "$out/context/busybox/rootfs"
mkdir -p "$out/context/busybox/rootfs/bin"
cp -L "$busybox" "$out/context/busybox/rootfs/bin/busybox"
for applet in $(busybox --list); do
  [ "$applet" = busybox ] || ln -s busybox "$out/context/busybox/rootfs/bin/$applet"
done
build busybox:latest busybox

context etcd "$etcd"
build kubelab/etcd:latest etcd
context pause "$stripped/pause"
build kubelab/pause:latest pause
context kubia "$stripped/kubia" "$stripped/curl"
build luksa/kubia:latest kubia
context kubia-unhealthy
build luksa/kubia-unhealthy:latest kubia-unhealthy
# The Deployment chapter's versions: the same binary, told which it is.
for v in v1 v2 v3 v4; do
  mkdir -p "$out/context/kubia-$v"
  printf '# luksa/kubia:%s, the Deployment chapter'"'"'s app (kubia --version %s).\nFROM luksa/kubia:latest\nENTRYPOINT ["/usr/local/bin/kubia", "--version", "%s"]\n' \
    "$v" "$v" "$v" >"$out/context/kubia-$v/Dockerfile"
  build "luksa/kubia:$v" "kubia-$v"
done
context batch-job
build luksa/batch-job:latest batch-job
context ssd-monitor
build luksa/ssd-monitor:latest ssd-monitor
context kubia-pet
build luksa/kubia-pet:latest kubia-pet
context kubia-pet-peers
build luksa/kubia-pet-peers:latest kubia-pet-peers

# The mongo stand-in's scripts where the Docker Hub image has its programs,
# and the data directories its pods mount volumes on.
context mongo
root=$out/context/mongo/rootfs
mkdir -p "$root/usr/local/bin" "$root/usr/local/lib/mongo" "$root/bin" "$root/data/db" "$root/data/configdb"
for f in docker-entrypoint.sh mongod mongo; do
  mv "$out/context/mongo/$f" "$root/usr/local/bin/"
done
mv "$out/context/mongo/mongo.awk" "$out/context/mongo/mongod-answer" "$root/usr/local/lib/mongo/"
cp deploy/images/kubia/bash "$root/bin/bash"
build mongo:latest mongo

# The .deb files of the given packages, downloaded into $debs once.
debs=$out/debs
deb_files() {
  mkdir -p "$debs"
  local pkg files
  for pkg in "$@"; do
    files=$(find "$debs" -name "${pkg}_*.deb" | head -n 1)
    if [ -z "$files" ]; then
      (cd "$debs" && apt-get download -q "$pkg" >/dev/null 2>&1) || {
        echo "cannot download the Debian package $pkg (needed for the kubelab, fortune, nginx, dnsutils and curl images)" >&2
        exit 1
      }
      files=$(find "$debs" -name "${pkg}_*.deb" | head -n 1)
    fi
    echo "$files"
  done
}

# Unpacks the given packages into ROOTFS and adds the libraries its ELF files
# (under the given directories) link, from the package or from this machine.
unpack() {
  local rootfs=$1 dirs=$2 deb lib
  shift 2
  for deb in $(deb_files "$@"); do
    dpkg-deb -x "$deb" "$rootfs"
  done
  rm -rf "$rootfs/usr/share/doc" "$rootfs/usr/share/man" "$rootfs/usr/share/lintian" "$rootfs/usr/share/menu"
  for lib in $(for f in $(cd "$rootfs" && find $dirs -type f); do
    LD_LIBRARY_PATH="$rootfs/usr/lib/x86_64-linux-gnu" ldd "$rootfs/$f" 2>/dev/null || true
  done | awk '$1 ~ /^\// { print $1 } $2 == "=>" && $3 ~ /^\// { print $3 }' | sort -u); do
    case "$lib" in "$rootfs"/*) continue ;; esac
    mkdir -p "$rootfs$(dirname "$lib")"
    cp -L "$lib" "$rootfs$lib"
  done
}

# The daemons, and git for the kubelet's gitRepo volumes: only what a clone
# from a local mirror runs (git's https helpers and perl scripts are left out).
context kubelab
root=$out/context/kubelab/rootfs
unpack "$root" "usr/bin usr/lib/git-core" git libpcre2-8-0 zlib1g libexpat1
rm -rf "$root/usr/share/git-core/contrib" "$root/usr/share/perl5" "$root/usr/share/bash-completion" \
  "$root/usr/lib/git-core/git-remote-http"* "$root/usr/lib/git-core/git-remote-ftp"* "$root/usr/share/gitweb"
mkdir -p "$root/etc"
mv "$out/context/kubelab/git/gitconfig" "$root/etc/gitconfig"
# The book's repositories, each a bare repository made from deploy/images/kubelab/git/<name>
# (a fixed author and date, so an unchanged page makes the same commit and hits the build cache).
for site in "$out"/context/kubelab/git/*/; do
  name=$(basename "$site")
  (
    export GIT_AUTHOR_NAME=kubelab GIT_AUTHOR_EMAIL=kubelab@localhost GIT_AUTHOR_DATE='2026-01-01T00:00:00Z'
    export GIT_COMMITTER_NAME=kubelab GIT_COMMITTER_EMAIL=kubelab@localhost GIT_COMMITTER_DATE='2026-01-01T00:00:00Z'
    git -C "$site" init -q -b master
    git -C "$site" add -A
    git -C "$site" commit -q -m "$name, as the book uses it"
    git clone -q --bare "$site" "$root/var/lib/kubelab/git/github.com/luksa/$name.git"
  )
done
rm -rf "$out/context/kubelab/git"
mkdir -p "$out/context/kubelab/bin"
for c in "${components[@]}"; do
  cp -L "$stripped/$c" "$out/context/kubelab/bin/"
done
build kubelab/kubelab:latest kubelab

context fortune
mkdir -p "$out/context/fortune/rootfs/bin"
mv "$out/context/fortune/fortuneloop.sh" "$out/context/fortune/rootfs/bin/"
unpack "$out/context/fortune/rootfs" usr/games fortune-mod fortunes-min librecode0
rm -f "$out/context/fortune/rootfs/usr/bin/strfile" "$out/context/fortune/rootfs/usr/bin/unstr"
build luksa/fortune:latest fortune
# The book's :args and :env variants (chapter 7) are the same loop: it takes
# its interval from the first argument or from $INTERVAL.
for variant in args env; do
  docker tag luksa/fortune:latest "luksa/fortune:$variant"
  echo "built luksa/fortune:$variant"
done

context nginx
root=$out/context/nginx/rootfs
unpack "$root" usr/sbin nginx nginx-common
# Only what the Docker Hub image has: its nginx.conf, conf.d/default.conf, mime.types.
rm -rf "$root/etc/nginx/sites-available" "$root/etc/nginx/sites-enabled" "$root/etc/nginx/modules-"* \
  "$root/etc/init.d" "$root/etc/logrotate.d" "$root/etc/ufw" "$root/etc/default" "$root/lib/systemd" \
  "$root/usr/share/nginx" "$root/var/www" "$root/usr/lib/nginx"
mkdir -p "$root/etc/nginx/conf.d" "$root/usr/share/nginx/html" "$root/var/log/nginx" "$root/var/lib/nginx" "$root/var/run"
mv "$out/context/nginx/nginx.conf" "$root/etc/nginx/nginx.conf"
mv "$out/context/nginx/default.conf" "$root/etc/nginx/conf.d/default.conf"
printf '<!DOCTYPE html>\n<html><body><h1>Welcome to nginx!</h1></body></html>\n' >"$root/usr/share/nginx/html/index.html"
ln -sf /dev/stdout "$root/var/log/nginx/access.log"
ln -sf /dev/stderr "$root/var/log/nginx/error.log"
cp -a deploy/images/etc "$root/"
echo 'nginx:x:101:101:nginx:/var/cache/nginx:/sbin/nologin' >>"$root/etc/passwd"
echo 'nginx:x:101:' >>"$root/etc/group"
build nginx:alpine nginx
docker tag nginx:alpine nginx:latest
echo "built nginx:latest"

# dig and its libraries: bind9's own and what they link, all from Debian's
# packages, so nothing depends on what this machine happens to have installed.
context dnsutils
unpack "$out/context/dnsutils/rootfs" usr/bin bind9-dnsutils bind9-host bind9-libs libedit2 libbsd0 libmd0 libtinfo6 \
  libfstrm0 libgssapi-krb5-2 libkrb5-3 libk5crypto3 libkrb5support0 libkeyutils1 libcom-err2 libidn2-0 \
  libunistring2 libjemalloc2 libjson-c5 liblmdb0 libmaxminddb0 libnghttp2-14 libprotobuf-c1 libssl3 libuv1 \
  libxml2 libicu72 liblzma5 zlib1g
rm -rf "$out/context/dnsutils/rootfs/usr/share/locale"
build tutum/dnsutils:latest dnsutils

# curl with every protocol library libcurl links, all from Debian's packages;
# Debian's CA certificates joined into the bundle curl reads by default (what
# update-ca-certificates would make at install time).
context curl
root=$out/context/curl/rootfs
unpack "$root" usr/bin curl libcurl4 libbrotli1 libgssapi-krb5-2 libkrb5-3 libk5crypto3 libkrb5support0 \
  libkeyutils1 libcom-err2 libidn2-0 libunistring2 libldap-2.5-0 libsasl2-2 libnghttp2-14 libpsl5 librtmp1 \
  libgnutls30 libhogweed6 libnettle8 libgmp10 libp11-kit0 libffi8 libtasn1-6 libssh2-1 libssl3 libzstd1 zlib1g \
  ca-certificates
rm -rf "$root/usr/share/locale" "$root/usr/sbin/update-ca-certificates" "$root/etc/ca-certificates" "$root/etc/ssl/certs"
mkdir -p "$root/etc/ssl/certs" "$root/bin"
find "$root/usr/share/ca-certificates" -name '*.crt' | sort | xargs awk 1 >"$root/etc/ssl/certs/ca-certificates.crt"
cp deploy/images/kubia/bash "$root/bin/bash"
build tutum/curl:latest curl
