#!/usr/bin/env bash
# Builds kube-apiserver and etcd once, from the Go module proxy, into a cache directory
# keyed by their versions, and prints that directory. Reused when both binaries exist.
# First run: ~1 min download + ~8-10 min compile on 2 cores; afterwards: instant.
set -euo pipefail
APISERVER_VERSION=v1.35.4
ETCD_VERSION=v3.6.5
here="$(cd "$(dirname "$0")" && pwd)"
dir="${BLASTLOG_K8S_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/blastlog/k8s/apiserver-$APISERVER_VERSION-etcd-$ETCD_VERSION}"
mkdir -p "$dir"
if [ ! -x "$dir/etcd" ]; then
  echo "k8s: building etcd $ETCD_VERSION into $dir" >&2
  (cd "$here/etcd" && CGO_ENABLED=0 go build -trimpath -o "$dir/etcd" go.etcd.io/etcd/server/v3)
fi
if [ ! -x "$dir/kube-apiserver" ]; then
  echo "k8s: building kube-apiserver $APISERVER_VERSION into $dir (about 10 minutes the first time)" >&2
  (cd "$here/apiserver" && CGO_ENABLED=0 go build -trimpath -o "$dir/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver)
fi
echo "$dir"
