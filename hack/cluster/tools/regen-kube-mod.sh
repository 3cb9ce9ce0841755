#!/usr/bin/env bash
# Regenerates hack/cluster/tools/kube/go.mod (+ go.sum) for K8S_VERSION in
# ../versions.env: requires k8s.io/kubernetes at that version and pins every
# k8s.io/* staging module it replaces locally to the matching v0.x version.
# Run after bumping K8S_VERSION, then commit go.mod and go.sum.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
GO="$(ruo_go)" || ruo_die "go not found"
V="$K8S_VERSION"
MOD="$("$GO" mod download -json "k8s.io/kubernetes@$V" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')"
[ -f "$MOD" ] || ruo_die "could not fetch k8s.io/kubernetes@$V"
STAGING="$(sed -n '/^replace (/,/^)/p' "$MOD" | awk '/=>/ {print $1}')"
cd "$RUO_CLUSTER_SRC/tools/kube"
{
  echo "// Wrapper module: builds the pinned Kubernetes control-plane binaries from k8s.io/kubernetes."
  echo "// Do not edit by hand; regenerate with hack/cluster/tools/regen-kube-mod.sh."
  echo "module ruo.local/cluster/kube"
  echo
  echo "go 1.26.0"
  echo
  echo "require k8s.io/kubernetes $V"
  echo
  echo "tool ("
  for c in kube-apiserver kube-controller-manager kubectl; do echo "	k8s.io/kubernetes/cmd/$c"; done
  echo ")"
  echo
  echo "replace ("
  for m in $STAGING; do echo "	$m => $m v0.${V#v1.}"; done
  echo ")"
} > go.mod
rm -f go.sum
GOFLAGS=-mod=mod "$GO" mod tidy
echo "regenerated $(pwd)/go.mod for k8s.io/kubernetes $V"
