#!/usr/bin/env bash
# The Node matrix: the CRC/protocol (v2)/scope-store/engine-v2 tests and the demo on every supported Node line,
# using official Node binaries from the npm registry (the node-linux-<cpu> packages hold bin/node),
# cached in .cache/node/node-linux-<cpu>-<version>/ (ignored by git; reused when present).
#
#   scripts/node-matrix.sh            # every version below; needs node_modules and dist/ (make build)
#   NODE_MATRIX="22.23.5" scripts/node-matrix.sh
#
# Versions are pinned so that a run is reproducible and the cache stays valid; bump them to test
# newer releases. 20.0.0 is the floor in `engines`: tap itself does not start there (its module
# hooks need a later 20.x), so on the floor the demo runs, against a real Mosquitto because the
# demo's in-process broker (aedes 1.x) needs Node >= 20.10. 20.11.1 is a 20.x without
# zlib.crc32 (< 20.15), the Node of Raspberry Pi OS armv7 boards in the field.
set -euo pipefail
cd "$(dirname "$0")/.."

FLOOR=20.0.0
VERSIONS=${NODE_MATRIX:-"$FLOOR 20.11.1 22.23.5 24.22.3 26.12.1"}
TESTS=(test/crc32.test.ts test/protocol-{vectors,cbor,framing,mqtt-topics,command-v2,messages-v2}.test.ts test/vectors-{commands,messages}-v2.test.ts test/seal.test.ts test/scope-store.test.ts test/log-writer.test.ts test/command-index.test.ts test/engine-v2.test.ts)
CACHE=.cache/node

case "$(uname -m)" in
  x86_64) CPU=x64 ;;
  aarch64 | arm64) CPU=arm64 ;;
  armv7l) CPU=armv7l ;;
  *) echo "node-matrix: no node-linux package for $(uname -m)" >&2; exit 1 ;;
esac

# fetch VERSION: make $CACHE/node-linux-$CPU-VERSION/bin/node exist (one npm pack, ~50 MB, a few seconds).
fetch() {
  local v=$1 dir="$CACHE/node-linux-$CPU-$1"
  [ -x "$dir/bin/node" ] && return 0
  local tmp
  tmp=$(mktemp -d)
  npm pack "node-linux-$CPU@$v" --pack-destination "$tmp" --silent >/dev/null
  mkdir -p "$dir"
  tar -xzf "$tmp"/node-linux-*.tgz -C "$dir" --strip-components=1 package/bin/node
  rm -rf "$tmp"
}

free_port() {
  node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}

MOSQ_PID=
cleanup() { [ -n "$MOSQ_PID" ] && kill "$MOSQ_PID" 2>/dev/null || true; }
trap cleanup EXIT

# A Mosquitto on a free loopback port for the floor's demo; prints its URL.
start_mosquitto() {
  local port mosq
  mosq=$(command -v mosquitto || echo /usr/sbin/mosquitto)
  port=$(free_port)
  "$mosq" -p "$port" >/dev/null 2>&1 &
  MOSQ_PID=$!
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && { echo "mqtt://127.0.0.1:$port"; return 0; }
    sleep 0.1
  done
  echo "node-matrix: mosquitto did not start" >&2
  return 1
}

[ -f dist/agent/cli/main.js ] || { echo "node-matrix: build first (make build)" >&2; exit 1; }
ran=0
t_all=$(date +%s)
for v in $VERSIONS; do
  t0=$(date +%s)
  fetch "$v"
  bin="$PWD/$CACHE/node-linux-$CPU-$v/bin"
  echo "== node-matrix: Node $("$bin/node" --version)"
  if [ "$v" = "$FLOOR" ]; then
    url=$(start_mosquitto)
    PATH="$bin:$PATH" node dist/agent/cli/main.js demo --quiet --mqtt "$url"
    cleanup
    MOSQ_PID=
    # The other commands' paths the demo does not take: a key file, offline commits into a disk
    # scope store (the config creates the scope local/floor and makes it the default).
    d=$(mktemp -d)
    PATH="$bin:$PATH" node dist/agent/cli/main.js keygen --out "$d/key.json" >/dev/null
    printf '{"dataDir":"%s","keyFile":"%s/key.json","scopes":{"default":"local/floor","create":[{"name":"local/floor","members":[{"key":"self","roles":"rwa"}],"retention":{}}]}}\n' "$d" "$d" >"$d/config.json"
    PATH="$bin:$PATH" node dist/agent/cli/main.js commit -c "$d/config.json" --text '{"floor":true}' >/dev/null
    PATH="$bin:$PATH" node dist/agent/cli/main.js commit -c "$d/config.json" --text '{"again":true}' >/dev/null
    rm -rf "$d"
  else
    PATH="$bin:$PATH" node_modules/.bin/tap --disable-coverage --timeout=600 "${TESTS[@]}"
    major=${v%%.*}
    if [ "$major" -ge 22 ]; then
      # npm (and so make's npx) runs on these lines: the demo exactly as a user starts it.
      PATH="$bin:$PATH" make --no-print-directory demo DEMO_ARGS=--quiet
    else
      PATH="$bin:$PATH" node dist/agent/cli/main.js demo --quiet
    fi
  fi
  ran=$((ran + 1))
  echo "== node-matrix: Node $v ok in $(($(date +%s) - t0)) s"
done
echo "== node-matrix: all $ran Node versions ok ($VERSIONS) in $(($(date +%s) - t_all)) s"
