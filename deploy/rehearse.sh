#!/usr/bin/env bash
# Rehearses deploy/compose.yaml without Docker: the image's files (package.json + lock installed with
# `npm ci --omit=dev`, protocol/, node/, entrypoint.sh at the paths the Dockerfile uses) run as 4
# nodes, each in its own network namespace on one bridge with its own /data, started by the real
# entrypoint.sh with compose.yaml's arguments and environment. A 5th namespace plays a developer on
# the LAN: it forms a subnet of the 4, deploys counter-wat, calls it through another node, restarts
# one node the way `docker compose restart` does (SIGTERM, same volume) and calls again.
# Needs root (namespaces, bind mounts, dropping to an unprivileged user), iproute2, util-linux and Node 24; touches nothing outside its work folder
# except the namespaces and veths it creates (pyreh-*) and, if absent, the empty mount points
# /data and /opt/pylon; all are removed on exit. Usage: sudo bash deploy/rehearse.sh [--keep]
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
keep=${1:-}
[ "$(id -u)" = 0 ] || { echo "rehearse.sh: run as root (it creates network namespaces and bind mounts)" >&2; exit 2; }
command -v ip >/dev/null || { echo "rehearse.sh: needs iproute2 (ip)" >&2; exit 2; }
# The image is node:24-slim: use Node 24 here too (the repository's CI copy if the system node is older).
if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 24 ? 0 : 1)' 2>/dev/null; then
  [ -f "$repo/.ci/node24.sh" ] || { echo "rehearse.sh: needs Node 24 on PATH" >&2; exit 2; }
  # shellcheck source=/dev/null
  . "$repo/.ci/node24.sh"
fi
wasm="$repo/contracts/build/counter-wat.wasm"
[ -f "$wasm" ] || { echo "rehearse.sh: $wasm is missing: run \`npm run build:contracts\` first" >&2; exit 2; }

work=$(mktemp -d /tmp/pylon-rehearse.XXXXXX)
chmod 755 "$work" # the nodes run unprivileged and read the image from here
made_data=; made_opt=
pids=()
step () { printf '\n== %s\n' "$*"; }
cleanup () {
  status=$?
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  for ns in pyreh-n1 pyreh-n2 pyreh-n3 pyreh-n4 pyreh-dev pyreh-sw; do ip netns del "$ns" 2>/dev/null || true; done
  [ -n "$made_data" ] && rmdir /data 2>/dev/null || true
  [ -n "$made_opt" ] && rmdir /opt/pylon 2>/dev/null || true
  if [ "$keep" = --keep ] || [ $status -ne 0 ]; then echo "rehearse.sh: logs and volumes kept in $work" >&2; else rm -rf "$work"; fi
  exit $status
}
trap cleanup EXIT

step "image: npm ci --omit=dev, protocol/, node/, entrypoint (as deploy/Dockerfile)"
mkdir -p "$work/image"
cp "$repo/package.json" "$repo/package-lock.json" "$work/image/"
(cd "$work/image" && npm ci --omit=dev --no-audit --no-fund --loglevel=error)
cp -r "$repo/protocol" "$repo/node" "$work/image/"
mkdir -p "$work/image/deploy" && cp "$repo/deploy/entrypoint.sh" "$work/image/deploy/"
chmod +x "$work/image/deploy/entrypoint.sh"
[ -d /data ] || { mkdir /data; made_data=1; }
[ -d /opt/pylon ] || { mkdir -p /opt/pylon; made_opt=1; }

step "network: one bridge, 4 nodes at 10.77.0.1-4, a developer at 10.77.0.100"
ip netns add pyreh-sw
ip -n pyreh-sw link add br0 type bridge
ip -n pyreh-sw link set br0 up
attach () { # namespace, address
  ip netns add "$1"
  ip -n "$1" link add eth0 type veth peer name "v-$1" netns pyreh-sw
  ip -n pyreh-sw link set "v-$1" master br0 up
  ip -n "$1" addr add "$2/24" dev eth0
  ip -n "$1" link set eth0 up
  ip -n "$1" link set lo up
}
for i in 1 2 3 4; do attach "pyreh-n$i" "10.77.0.$i"; done
attach pyreh-dev 10.77.0.100

# One node as compose runs it: its own /data volume and /opt/pylon, the entrypoint with the service's
# command, as an unprivileged user (the image's USER node; here uid 65534); exec'd, so the pid is the
# daemon's (SIGTERM reaches it as `docker stop` would).
start_node () { # index, rack
  local i=$1 env=()
  mkdir -p "$work/data$i" && chown 65534:65534 "$work/data$i"
  [ "$i" = 1 ] || env=(PYLON_BOOTSTRAP_API=http://10.77.0.1:7373)
  ip netns exec "pyreh-n$i" unshare --mount --propagation private \
    env "${env[@]}" sh -c "mount --bind '$work/data$i' /data && mount --bind '$work/image' /opt/pylon && exec setpriv --reuid=65534 --regid=65534 --clear-groups /opt/pylon/deploy/entrypoint.sh --rack $2 --region lab --operator compose" \
    >>"$work/node$i.log" 2>&1 &
  pids[$i]=$!
}
cli () { ip netns exec pyreh-dev node "$work/image/node/cli/main.ts" "$@"; }
# A value of the JSON on stdin: rehearse.sh field path.to.value
field () { node -e 'let s = ""; process.stdin.on("data", d => s += d).on("end", () => { let v = JSON.parse(s); for (const k of process.argv[1].split(".")) v = v[k]; process.stdout.write(typeof v === "string" ? v : JSON.stringify(v)) })' "$1"; }
wait_for () { # what, seconds, command…
  local what=$1 seconds=$2; shift 2
  for _ in $(seq 1 "$seconds"); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done
  echo "rehearse.sh: $what did not happen within ${seconds} s" >&2; return 1
}

step "nodes: entrypoint.sh with compose.yaml's commands (node1 first, the others bootstrap through its API)"
start_node 1 rack-a
wait_for "node1's API" 60 cli status --api http://10.77.0.1:7373 --json
start_node 2 rack-a; start_node 3 rack-b; start_node 4 rack-b
for i in 2 3 4; do wait_for "node$i's API" 90 cli status --api "http://10.77.0.$i:7373" --json; done
books () { for i in 1 2 3 4; do [ "$(cli capacity --api "http://10.77.0.$i:7373" --json | field length)" = 4 ] || return 1; done; }
wait_for "every node's capacity book to list all 4" 60 books
for i in 1 2 3 4; do
  uid=$(awk '/^Uid:/ { print $2 }' "/proc/${pids[$i]}/status")
  [ "$uid" = 65534 ] && tr '\0' ' ' <"/proc/${pids[$i]}/cmdline" | grep -q 'main.ts daemon --data-dir /data' || { echo "rehearse.sh: node$i's pid ${pids[$i]} is not the unprivileged daemon" >&2; exit 1; }
  echo "node$i: $(cli status --api "http://10.77.0.$i:7373" --json | field nodeId), 4 adverts in its book, daemon pid ${pids[$i]} uid $uid"
done

step "developer: subnet create, deploy through node2, call through node4, query through node3"
subnet=$(cli subnet create --size 4 --name rehearsal --api http://10.77.0.1:7373 --json | field id)
echo "subnet $subnet"
identity="$work/dev.key"
cli identity new --identity "$identity" --json >/dev/null
actor=$(cli deploy "$wasm" --api http://10.77.0.2:7373 --identity "$identity" --json | field actor)
echo "actor $actor"
cli call "$actor" inc --api http://10.77.0.4:7373 --identity "$identity" --json | tee "$work/call1.json"
[ "$(field ok <"$work/call1.json")" = true ] && [ "$(field certified <"$work/call1.json")" = true ] || { echo "rehearse.sh: the call was not certified" >&2; exit 1; }
echo "query through node3: $(cli query "$actor" get --api http://10.77.0.3:7373 --json | field result)"

step "docker compose restart node3: SIGTERM, then the same volume again"
kill -TERM "${pids[3]}"
if wait "${pids[3]}"; then echo "node3 exited 0"; else echo "rehearse.sh: node3 exited $?" >&2; exit 1; fi
start_node 3 rack-b
wait_for "node3's API after the restart" 90 cli status --api http://10.77.0.3:7373 --json
cli call "$actor" inc --api http://10.77.0.3:7373 --identity "$identity" --json | tee "$work/call2.json"
[ "$(field result <"$work/call2.json")" = 2 ] || { echo "rehearse.sh: the second call did not count 2" >&2; exit 1; }

step "docker compose down: SIGTERM to every node"
for i in 1 2 3 4; do kill -TERM "${pids[$i]}"; done
for i in 1 2 3 4; do
  if wait "${pids[$i]}"; then echo "node$i exited 0"; else echo "rehearse.sh: node$i exited $?" >&2; exit 1; fi
done
pids=()
echo
echo "rehearsal passed"
