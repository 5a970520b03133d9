#!/usr/bin/env bash
# Builds helm once, from the Go module proxy, into a cache directory keyed by its
# version, and prints the binary's path. Reused when it exists.
set -euo pipefail
HELM_VERSION=v4.3.2
here="$(cd "$(dirname "$0")" && pwd)"
dir="${XDG_CACHE_HOME:-$HOME/.cache}/blastlog/helm-$HELM_VERSION"
if [ -z "${BLASTLOG_TOOLS_PATH_ONLY:-}" ] && [ ! -x "$dir/helm" ]; then
  echo "tools: building helm $HELM_VERSION into $dir" >&2
  mkdir -p "$dir"
  (cd "$here" && CGO_ENABLED=0 go build -trimpath -o "$dir/helm" helm.sh/helm/v4/cmd/helm)
fi
echo "$dir/helm"
