#!/usr/bin/env bash
# Builds Amazon's Lambda Runtime Interface Emulator once, from the Go module proxy,
# into a cache directory keyed by its version, and prints the binary's path. Reused
# when it exists.
set -euo pipefail
RIE_VERSION=v0.0.0-20261030222936-bef5c4ba774d
here="$(cd "$(dirname "$0")" && pwd)"
dir="${XDG_CACHE_HOME:-$HOME/.cache}/blastlog/lambdarie-$RIE_VERSION"
if [ -z "${BLASTLOG_TOOLS_PATH_ONLY:-}" ] && [ ! -x "$dir/aws-lambda-rie" ]; then
  echo "tools: building aws-lambda-rie $RIE_VERSION into $dir" >&2
  mkdir -p "$dir"
  (cd "$here" && CGO_ENABLED=0 go build -trimpath -o "$dir/aws-lambda-rie" github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie)
fi
echo "$dir/aws-lambda-rie"
