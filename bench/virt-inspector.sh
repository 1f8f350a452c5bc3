#!/usr/bin/env bash
# The inventory part of image vetting (issue 3) side by side with libguestfs's virt-inspector on
# the same image, as root:
#   bench/virt-inspector.sh [IMAGE] [BULWARK_INSPECT] [RUNS]
# defaults: the debootstrap minbase image (tests/data/make-debian-image.sh), the Release build's
# bulwark-inspect, 3 runs. Bulwark's worker runs alone (no daemon, no jail) with --content 0.
#
# libguestfs boots a small appliance under QEMU, built by supermin from the host's kernel and
# /lib/modules. These machines boot without either, so this script extracts Debian's kernel
# package (never installed) and, when /lib/modules does not exist, copies its modules there.
# QEMU aborts on this host's /dev/kvm, so the appliance runs under TCG (force_tcg).
set -euo pipefail
image=${1:-$HOME/.cache/bulwark/debian-image/clean.qcow2}
inspect=${2:-build-release/src/bulwark-inspect}
runs=${3:-3}
work=/var/tmp/bulwark-bench/kernel
apt-get install -y -q libguestfs-tools >/dev/null
if [[ ! -d $work/x/boot ]]; then
  mkdir -p "$work" && cd "$work"
  apt-get download -q "$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')"
  dpkg-deb -x linux-image-*.deb x
  cd - >/dev/null
fi
kver=$(ls "$work/x/lib/modules" | head -1)
if [[ ! -e /lib/modules/$kver ]]; then
  mkdir -p /lib/modules && cp -a "$work/x/lib/modules/$kver" /lib/modules/
fi
export SUPERMIN_KERNEL=$work/x/boot/vmlinuz-$kver SUPERMIN_MODULES=/lib/modules/$kver SUPERMIN_KERNEL_VERSION=$kver
export LIBGUESTFS_BACKEND=direct LIBGUESTFS_BACKEND_SETTINGS=force_tcg
virt-inspector --format=qcow2 -a "$image" >/dev/null  # builds and caches the appliance once
for i in $(seq "$runs"); do
  t0=$(date +%s.%N)
  n_vi=$(virt-inspector --format=qcow2 -a "$image" | grep -c '<application>')
  t1=$(date +%s.%N)
  n_bw=$("$inspect" --image-fd 3 --out-fd 1 --content 0 3<"$image" |
    /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)["report"]["packages"]))' 2>/dev/null ||
    echo "?")
  t2=$(date +%s.%N)
  printf 'run %d: virt-inspector %.2f s (%s applications)   bulwark-inspect %.3f s (%s packages)\n' \
    "$i" "$(echo "$t1 - $t0" | bc)" "$n_vi" "$(echo "$t2 - $t1" | bc)" "$n_bw"
done
