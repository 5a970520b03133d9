// Package images checks the container images that `go tool task images` builds with
// buildah: non-root, the right entrypoint and port, labels, under 40 MB, no shell, and
// a binary that runs (`buildah run --isolation chroot ... --version`).
package images
