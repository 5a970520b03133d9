#!/usr/bin/env bash
# Builds promtool once, from the Go module proxy, into a cache directory keyed by its
# version, and prints the binary's path. Reused when it exists.
set -euo pipefail
PROMTOOL_VERSION=v0.316.0
here="$(cd "$(dirname "$0")" && pwd)"
dir="${XDG_CACHE_HOME:-$HOME/.cache}/blastlog/promtool-$PROMTOOL_VERSION"
if [ -z "${BLASTLOG_TOOLS_PATH_ONLY:-}" ] && [ ! -x "$dir/promtool" ]; then
  echo "tools: building promtool $PROMTOOL_VERSION into $dir" >&2
  mkdir -p "$dir"
  (cd "$here" && CGO_ENABLED=0 go build -trimpath -o "$dir/promtool" github.com/prometheus/prometheus/cmd/promtool)
fi
echo "$dir/promtool"
