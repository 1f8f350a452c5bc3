#!/usr/bin/env bash
# Installs, from Debian 12 packages only, everything Bulwark needs to build, test and run.
# Idempotent: packages already present are not touched, and apt-get runs only when needed.
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build pkg-config git
  libsodium-dev libsqlite3-dev libssl-dev nlohmann-json3-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang clang-format clang-tidy libclang-rt-14-dev
  # run
  qemu-system-x86 qemu-utils sqlite3 procps
  # guest uplinks (issue 5): user-mode networking, one unprivileged process per guest NIC
  passt
  # the demo/test guest recipe (guest/build.sh)
  busybox-static cpio e2fsprogs xz-utils python3
  # tests: a disk that boots through its own bootloader
  syslinux syslinux-common mtools dosfstools fdisk
  # the jail (issue 4): seccomp filters and capability handling
  libseccomp-dev libcap-dev
  # image inspection (issue 3): ext2/3/4, compressed qcow2 clusters, YARA, a real Debian to vet
  libext2fs-dev zlib1g-dev libzstd-dev libyara-dev libtomlplusplus-dev debootstrap
  # tests: SARIF and CycloneDX output validated against their published JSON schemas
  python3-jsonschema
  # the Debian test images (tests/data/make-debian-image.sh): planted SSH and PEM keys
  openssl openssh-client
  # the virtual network (issue 5): Hyperscan prefilter, pcre for rules; tcpdump and scapy
  # read and write the test captures independently of Bulwark's own pcap code
  libhyperscan-dev libpcre2-dev tcpdump python3-scapy
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  SUDO=sudo
else
  SUDO=
fi
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
