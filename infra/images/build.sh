#!/usr/bin/env bash
# Builds the three images offline with Debian's buildah: static binaries (CGO off,
# stripped, version stamped) on scratch, plus a CA bundle and a passwd/group entry for
# the non-root user. No registry is needed: nothing is pulled.
#   VERSION (default: git describe), IMAGE_PREFIX (default: blastlog-), TAG (default: VERSION)
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v buildah >/dev/null || { echo "images: buildah is not installed (apt-get install buildah)" >&2; exit 1; }
version="${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}"
revision="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
tag="${TAG:-$version}"
prefix="${IMAGE_PREFIX:-blastlog-}"
ca=/etc/ssl/certs/ca-certificates.crt
[ -s "$ca" ] || { echo "images: $ca is missing (apt-get install ca-certificates)" >&2; exit 1; }

ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/bin" "$ctx/rootfs/etc/ssl/certs"
cp "$ca" "$ctx/rootfs/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/:/sbin/nologin\n' > "$ctx/rootfs/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' > "$ctx/rootfs/etc/group"
for name in stream ticket publish; do
  echo "images: building blastlog-$name $version"
  tags=""
  [ "$name" = stream ] && tags="-tags=nodev" # the image carries no embedded dev stack
  CGO_ENABLED=0 go build -trimpath $tags \
    -ldflags="-s -w -X github.com/blastlog/blastlog/functions/internal/version.Version=$version" \
    -o "$ctx/bin/blastlog-$name" "./functions/$name"
  buildah bud --quiet --isolation chroot --layers=false \
    --build-arg VERSION="$version" --build-arg REVISION="$revision" \
    -f "infra/images/Containerfile.$name" -t "localhost/${prefix}${name}:$tag" -t "localhost/${prefix}${name}:latest" "$ctx" >/dev/null
  echo "images: localhost/${prefix}${name}:$tag ($(buildah images --noheading --format '{{.Size}}' "localhost/${prefix}${name}:$tag" | head -1))"
done
