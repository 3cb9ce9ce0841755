#!/usr/bin/env bash
# Installs what the local Kubernetes cluster (hack/cluster/) needs on a fresh
# Debian 12 and builds its binaries (cached, see hack/cluster/README.md).
# Idempotent: installed packages and cached binaries are left alone.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
log() { printf '[setup-cluster] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# procps: pgrep (smoke test); util-linux: setsid, flock.
PKGS=(openssl redis-server redis-tools iproute2 ca-certificates procps util-linux coreutils)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "need root (or sudo) to install: ${missing[*]}"
    SUDO=sudo
  fi
  log "installing: ${missing[*]}"
  $SUDO apt-get update -qq
  # policy-rc.d-less containers may try to start redis-server's service; that is harmless here.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  log "apt packages already installed: ${PKGS[*]}"
fi

# Go >= 1.26 (Kubernetes v1.36 needs it).
go_ok() { "$1" env GOVERSION 2>/dev/null | grep -Eq '^go1\.(2[6-9]|[3-9][0-9])'; }
GO=""
for cand in "$(command -v go 2>/dev/null || true)" /usr/local/go/bin/go /usr/lib/go/bin/go; do
  if [ -n "$cand" ] && [ -x "$cand" ] && go_ok "$cand"; then GO="$cand"; break; fi
done
if [ -z "$GO" ]; then
  cand="$(apt-cache policy golang-go 2>/dev/null | awk '/Candidate:/ {print $2}')"
  case "$cand" in
    2:1.2[6-9]*|2:1.[3-9][0-9]*)
      log "installing Debian's golang-go $cand"
      DEBIAN_FRONTEND=noninteractive ${SUDO:-} apt-get install -y -qq --no-install-recommends golang-go >/dev/null
      GO="$(command -v go)";;
    *)
      die "Go >= 1.26 is required to build the cluster (Kubernetes v1.36) and none was found
  (looked at PATH, /usr/local/go/bin/go, /usr/lib/go/bin/go); Debian's golang-go candidate is '${cand:-none}', too old.
  Install Go >= 1.26 at /usr/local/go (or put it on PATH) and re-run.";;
  esac
fi
log "using $("$GO" env GOVERSION) at $GO"
case ":$PATH:" in *":$(dirname "$GO"):"*) ;; *) export PATH="$(dirname "$GO"):$PATH";; esac

"$HERE/cluster/build.sh"
log "done: bring the cluster up with hack/cluster/up.sh, down with hack/cluster/down.sh"
