#!/usr/bin/env bash
# Builds the local cluster's binaries at the versions pinned in versions.env,
# (kube-* with tools/kube/patches applied: see tools/kube/patches/README.md)
# from their Go modules, into a cache outside the checkout:
#
#   ${RUO_CACHE_DIR:-$HOME/.cache/redis-upgrade-operator}/k8s-<K8S_VERSION>/bin/
#       kube-apiserver kube-controller-manager kubectl etcd helm
#   ${RUO_CACHE_DIR:-...}/nodeagent/<hash of its sources>/nodeagent
#
# Each binary has a stamp (version + hash of its wrapper module); a binary
# whose stamp matches is not rebuilt, so a second run takes a second or two.
# Builds run under `nice` with at most 2 parallel jobs.
#
# Usage: hack/cluster/build.sh [--print-paths]
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if [ "${1:-}" = "--print-paths" ]; then
  echo "RUO_BIN_DIR=$RUO_BIN_DIR"
  echo "RUO_NODEAGENT=$(ruo_nodeagent_bin)"
  exit 0
fi

GO="$(ruo_go)" || ruo_die "go not found (expected on PATH or at /usr/local/go/bin/go); run hack/setup-cluster.sh"
GOVER="$("$GO" env GOVERSION)"
case "$GOVER" in
  go1.2[6-9]*|go1.[3-9]*) ;;
  *) ruo_die "$GOVER is too old: Kubernetes $K8S_VERSION needs Go >= 1.26" ;;
esac

mkdir -p "$RUO_BIN_DIR" "$RUO_CACHE_DIR/nodeagent"
# One build at a time per cache (parallel test runs may all call us).
exec 9>"$RUO_CACHE_DIR/.build.lock"
flock 9

export GOMAXPROCS="${GOMAXPROCS:-2}"
export GOFLAGS="${GOFLAGS:-} -mod=readonly"
BUILD=(nice -n 10 "$GO" build -p 2 -trimpath)
T0=$SECONDS
BUILT=()

# stamp_ok BIN STAMP: the binary exists and was built from STAMP.
stamp_ok() { [ -x "$RUO_BIN_DIR/$1" ] && [ "$(cat "$RUO_BIN_DIR/.$1.stamp" 2>/dev/null)" = "$2" ]; }
set_stamp() { printf '%s\n' "$2" > "$RUO_BIN_DIR/.$1.stamp"; }

# --- Kubernetes: kube-apiserver, kube-controller-manager, kubectl ---------
# Built from a copy of the k8s.io/kubernetes module with tools/kube/patches/*.sh
# applied (one validation relaxed so EndpointSlices may hold loopback pod IPs;
# see tools/kube/patches/README.md), through a replace in a copy of
# tools/kube/go.mod (whose go.sum pins everything else).
KUBE_MOD="$RUO_CLUSTER_SRC/tools/kube"
PATCH_HASH="$(cd "$KUBE_MOD/patches" && find . -type f -name '*.sh' -print0 | LC_ALL=C sort -z | xargs -0 cat | sha256sum | cut -c1-16)"
KUBE_STAMP="$K8S_VERSION $(ruo_mod_hash "$KUBE_MOD") patches:$PATCH_HASH"
grep -q "k8s.io/kubernetes $K8S_VERSION" "$KUBE_MOD/go.mod" \
  || ruo_die "tools/kube/go.mod does not pin k8s.io/kubernetes $K8S_VERSION: run hack/cluster/tools/regen-kube-mod.sh"
KUBE_NEED=()
for b in kube-apiserver kube-controller-manager kubectl; do
  stamp_ok "$b" "$KUBE_STAMP" || KUBE_NEED+=("$b")
done
if [ ${#KUBE_NEED[@]} -gt 0 ]; then
  ruo_log "building ${KUBE_NEED[*]} (k8s.io/kubernetes $K8S_VERSION); the first build takes several minutes"
  t=$SECONDS
  SRC_ROOT="$RUO_CACHE_DIR/k8s-$K8S_VERSION/src"
  rm -rf "$SRC_ROOT"
  mkdir -p "$SRC_ROOT/mod"
  UPSTREAM="$(cd "$KUBE_MOD" && "$GO" mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [ -d "$UPSTREAM" ] || ruo_die "could not download k8s.io/kubernetes@$K8S_VERSION"
  cp -r "$UPSTREAM" "$SRC_ROOT/kubernetes"
  chmod -R u+w "$SRC_ROOT/kubernetes"
  for p in "$KUBE_MOD"/patches/*.sh; do
    ruo_log "applying $(basename "$p")"
    (cd "$SRC_ROOT/kubernetes" && bash "$p")
  done
  cp "$KUBE_MOD/go.mod" "$KUBE_MOD/go.sum" "$SRC_ROOT/mod/"
  printf '\nreplace k8s.io/kubernetes => ../kubernetes\n' >> "$SRC_ROOT/mod/go.mod"
  maj="${K8S_VERSION#v}"; maj="${maj%%.*}"; min="${K8S_VERSION#v*.}"; min="${min%%.*}"
  now="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  LD="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    LD+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=$maj -X $pkg.gitMinor=$min"
    LD+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$now"
  done
  tmp="$(mktemp -d "$RUO_BIN_DIR/.build.XXXXXX")"
  pkgs=()
  for b in "${KUBE_NEED[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$b"); done
  (cd "$SRC_ROOT/mod" && "${BUILD[@]}" -ldflags "$LD" -o "$tmp/" "${pkgs[@]}")
  for b in "${KUBE_NEED[@]}"; do mv -f "$tmp/$b" "$RUO_BIN_DIR/$b"; set_stamp "$b" "$KUBE_STAMP"; done
  rmdir "$tmp"
  rm -rf "$SRC_ROOT"
  ruo_log "built ${KUBE_NEED[*]} in $((SECONDS - t))s"
  BUILT+=("${KUBE_NEED[@]}")
fi

# --- etcd ----------------------------------------------------------------
ETCD_MOD="$RUO_CLUSTER_SRC/tools/etcd"
ETCD_STAMP="$ETCD_VERSION $(ruo_mod_hash "$ETCD_MOD")"
grep -q "go.etcd.io/etcd/server/v3 $ETCD_VERSION" "$ETCD_MOD/go.mod" \
  || ruo_die "tools/etcd/go.mod does not pin go.etcd.io/etcd/server/v3 $ETCD_VERSION"
if ! stamp_ok etcd "$ETCD_STAMP"; then
  ruo_log "building etcd $ETCD_VERSION"
  t=$SECONDS
  (cd "$ETCD_MOD" && "${BUILD[@]}" -ldflags "-s -w" -o "$RUO_BIN_DIR/.etcd.new" .)
  mv -f "$RUO_BIN_DIR/.etcd.new" "$RUO_BIN_DIR/etcd"; set_stamp etcd "$ETCD_STAMP"
  ruo_log "built etcd in $((SECONDS - t))s"
  BUILT+=(etcd)
fi

# --- helm ----------------------------------------------------------------
HELM_MOD="$RUO_CLUSTER_SRC/tools/helm"
HELM_STAMP="$HELM_VERSION $(ruo_mod_hash "$HELM_MOD")"
grep -q "helm.sh/helm/v3 $HELM_VERSION" "$HELM_MOD/go.mod" \
  || ruo_die "tools/helm/go.mod does not pin helm.sh/helm/v3 $HELM_VERSION"
if ! stamp_ok helm "$HELM_STAMP"; then
  ruo_log "building helm $HELM_VERSION"
  t=$SECONDS
  (cd "$HELM_MOD" && "${BUILD[@]}" \
     -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean" \
     -o "$RUO_BIN_DIR/.helm.new" helm.sh/helm/v3/cmd/helm)
  mv -f "$RUO_BIN_DIR/.helm.new" "$RUO_BIN_DIR/helm"; set_stamp helm "$HELM_STAMP"
  ruo_log "built helm in $((SECONDS - t))s"
  BUILT+=(helm)
fi

# --- node agent (ours) ---------------------------------------------------
NA="$(ruo_nodeagent_bin)"
if [ ! -x "$NA" ]; then
  ruo_log "building nodeagent ($(basename "$(dirname "$NA")"))"
  t=$SECONDS
  mkdir -p "$(dirname "$NA")"
  (cd "$RUO_CLUSTER_SRC/nodeagent" && "${BUILD[@]}" -ldflags "-s -w" -o "$NA.new" .)
  mv -f "$NA.new" "$NA"
  ruo_log "built nodeagent in $((SECONDS - t))s"
  BUILT+=(nodeagent)
  # Keep the 5 most recent node agent builds (a running agent keeps its inode).
  (cd "$RUO_CACHE_DIR/nodeagent" && ls -1t | tail -n +6 | xargs -r rm -rf)
fi

if [ ${#BUILT[@]} -gt 0 ]; then
  ruo_log "build done in $((SECONDS - T0))s: ${BUILT[*]}"
else
  ruo_log "all binaries cached (k8s $K8S_VERSION, etcd $ETCD_VERSION, helm $HELM_VERSION) in $RUO_BIN_DIR"
fi
