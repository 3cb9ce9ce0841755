#!/usr/bin/env bash
# Allow loopback addresses in Endpoints/EndpointSlices (see README.md).
set -euo pipefail
f=pkg/apis/core/validation/validation.go
n="$(grep -c '^	if ip.IsLoopback() {$' "$f" || true)"
[ "$n" = 1 ] || { echo "allow-loopback-endpoints: expected 1 match in $f, found $n" >&2; exit 1; }
sed -i 's/^	if ip.IsLoopback() {$/	if false \&\& ip.IsLoopback() { \/\/ ruo local cluster: pods live on 127.x/' "$f"
grep -q 'if false && ip.IsLoopback() {' "$f"
