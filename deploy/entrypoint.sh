#!/bin/sh
# Container entrypoint: initializes /data on first start, then runs the daemon. With
# PYLON_BOOTSTRAP_API set (e.g. http://node1:7373), it asks that node for its tcp multiaddr and
# bootstraps to it, so a compose file needs no pre-shared peer ids.
set -eu
cli="node /opt/pylon/node/cli/main.ts"
[ -f /data/node.key ] || $cli init --data-dir /data --listen /ip4/0.0.0.0/tcp/4001 --listen /ip4/0.0.0.0/tcp/4002/ws --api 0.0.0.0:7373 >&2
set -- "$@"
if [ -n "${PYLON_BOOTSTRAP_API:-}" ]; then
  for _ in $(seq 1 60); do
    addr=$($cli status --api "$PYLON_BOOTSTRAP_API" --json 2>/dev/null | node -e '
      let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
        const a = JSON.parse(s).multiaddrs.find(m => m.includes("/tcp/4001/") && !m.startsWith("/ip4/127."))
        if (a) process.stdout.write(a) })') || true
    [ -n "$addr" ] && break
    sleep 1
  done
  [ -n "${addr:-}" ] || { echo "no bootstrap node answered at $PYLON_BOOTSTRAP_API" >&2; exit 1; }
  set -- --bootstrap "$addr" "$@"
fi
exec $cli daemon --data-dir /data "$@"
