#!/usr/bin/env bash
# Test only (hack/test-k8s.sh): the image of the README's skopeo Job ("Deploy
# for quay.io", step 6), which names quay.io/skopeo/stable, an image the test
# cluster cannot pull. This is this machine's skopeo (Debian's package) with
# the shared libraries it links, the CA roots and a policy that accepts any
# image, FROM scratch; its entrypoint is skopeo, as upstream's is. Written as
# a docker-archive for `cluster load-image`:
#
#   hack/k8s/skopeo-image.sh OUT.tar IMAGE      # e.g. localhost/squid-cache-exporter/skopeo:0.1.0
#
# Needs root and buildah (hack/build-images.sh installs it); installs skopeo
# when it is missing.
set -euo pipefail
out=$(realpath -m "${1:?usage: $0 OUT.tar IMAGE}")
image=${2:?usage: $0 OUT.tar IMAGE}

command -v skopeo >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends skopeo >/dev/null
}
bin=$(command -v skopeo)

work=$(mktemp -d)
B=(buildah --root "$work/storage" --runroot "$work/run" --storage-driver vfs)
cleanup() { "${B[@]}" rm -a >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

root=$work/root
mkdir -p "$root/usr/bin" "$root/etc/containers" "$root/etc/ssl/certs" "$root/tmp" "$root/var/tmp"
chmod 1777 "$root/tmp" "$root/var/tmp"
cp "$bin" "$root/usr/bin/skopeo"
for lib in $(ldd "$bin" | grep -o '/[^ ]*'); do cp -L --parents "$lib" "$root"; done
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
echo '{"default": [{"type": "insecureAcceptAnything"}]}' >"$root/etc/containers/policy.json"
tar -C "$root" --numeric-owner --owner=0 --group=0 -cf "$work/root.tar" .

ctr=$("${B[@]}" from scratch)
"${B[@]}" add "$ctr" "$work/root.tar" / >/dev/null
"${B[@]}" config --user 65534:65534 --env HOME=/tmp --entrypoint '["/usr/bin/skopeo"]' --cmd '[]' "$ctr"
"${B[@]}" commit --quiet "$ctr" "$image" >/dev/null
rm -f "$out"
"${B[@]}" push --quiet "$image" "docker-archive:$out:$image"
echo "$out: $image, $("$bin" --version)" >&2
