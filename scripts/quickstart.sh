#!/usr/bin/env bash
# The main job on embedded defaults: install dependencies, build and install bulwark and
# bulwarkd, build the demo guest, start bulwarkd, import the demo image as a golden image,
# and boot an ephemeral guest from it. Safe to run again.
#   BULWARK_HOME selects the data directory (default ~/.local/share/bulwark).
set -euo pipefail
cd "$(dirname "$0")/.."

PREFIX=${PREFIX:-/usr/local}
export BULWARK_HOME=${BULWARK_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/bulwark}

step() { printf '\n== %s\n' "$*"; }

step "installing dependencies (Debian packages)"
scripts/install-deps.sh

step "building (Release)"
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DBULWARK_TESTS=OFF >/dev/null
ninja -C build-release >/dev/null
if [[ -w "$PREFIX/bin" ]]; then
  install -m 0755 build-release/src/bulwark build-release/src/bulwarkd build-release/src/bulwark-jailer build-release/src/bulwark-inspect build-release/src/bulwark-switch "$PREFIX/bin/"
else
  sudo install -m 0755 build-release/src/bulwark build-release/src/bulwarkd build-release/src/bulwark-jailer build-release/src/bulwark-inspect build-release/src/bulwark-switch "$PREFIX/bin/"
fi
export PATH="$PREFIX/bin:$PATH"
echo "installed: $(command -v bulwark) $(command -v bulwarkd)"

step "building the demo guest (cached)"
GUEST_DIR=$(guest/build.sh | tail -n 1)
echo "guest: $GUEST_DIR"

step "starting bulwarkd (home $BULWARK_HOME)"
if bulwark status >/dev/null 2>&1; then
  echo "bulwarkd is already running"
else
  bulwarkd --detach
fi

step "importing the demo image as a golden image"
if bulwark image show demo >/dev/null 2>&1; then
  echo "demo image already imported"
else
  bulwark image import "$GUEST_DIR/root.qcow2" --name demo \
    --kernel "$GUEST_DIR/vmlinux" --initrd "$GUEST_DIR/initrd.img" --cmdline "$(cat "$GUEST_DIR/cmdline")"
fi
bulwark image list

step "booting an ephemeral guest"
if ! bulwark vm show demo >/dev/null 2>&1; then
  bulwark vm create demo --image demo --memory 256 --ephemeral --net demo,label=role=demo
fi
if [[ "$(bulwark --json vm show demo | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')" != running ]]; then
  bulwark vm start demo
fi
for _ in $(seq 1 300); do
  if bulwark vm console demo --tail 0 | grep -q BULWARK-GUEST-READY; then break; fi
  sleep 0.2
done
bulwark vm list
echo
echo "-- console (tail) --"
bulwark vm console demo --tail 600
echo
echo "-- inside the guest --"
bulwark vm exec demo -- /bin/sh -c 'echo "$(uname -sr) up, $(cat /proc/meminfo | head -1)"'
echo
echo "Done. Try: bulwark vm exec demo -- /bin/sh -c 'ls /'   |   bulwark net status   |   bulwark audit tail   |   bulwark vm stop demo"
