#!/usr/bin/env bash
# Vendors the page's sign-in library: @azure/msal-browser, the pinned release, from
# npm (its lib/msal-browser.min.js and LICENSE, into adapters/web/static/vendor/).
# After a new release: change VERSION, run `go tool task vendor:msal`, and put the
# file's new sha256 in adapters/web/web_test.go (TestSignInLibraryIsPinned).
set -euo pipefail
VERSION=5.29.0
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent "@azure/msal-browser@$VERSION" >/dev/null
tar xzf "azure-msal-browser-$VERSION.tgz"
install -m 0644 package/lib/msal-browser.min.js "$root/adapters/web/static/vendor/msal-browser.min.js"
install -m 0644 package/LICENSE "$root/adapters/web/static/vendor/msal-browser.LICENSE.txt"
sha256sum "$root/adapters/web/static/vendor/msal-browser.min.js"
