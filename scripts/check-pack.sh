#!/usr/bin/env bash
# Checks the production install: packs the checkout (`npm pack`, which runs `prepare` = build),
# installs the tarball into a fresh prefix (--prefer-offline: npm's cache first, the registry only for
# the package metadata that `npm ci` does not cache), and
# runs the installed keepctl: --help, --version, `devnet` (must refuse: DEV_INSTALL, exit 3) and
# `check` against a devnet started from this checkout (exit 10: the seeded scenario is at risk).
# Prints the tarball's and the install's sizes. Usage: scripts/check-pack.sh  (npm run check-pack)
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
work="$(mktemp -d "${TMPDIR:-/tmp}/keepctl-check-pack.XXXXXX")"
devnet_pid=""
cleanup() {
  if [ -n "$devnet_pid" ] && kill -0 "$devnet_pid" 2>/dev/null; then
    kill -INT "$devnet_pid" 2>/dev/null || true
    wait "$devnet_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "check-pack: FAIL: $*" >&2; exit 1; }
start=$SECONDS

echo "check-pack: npm pack"
tgz="$(npm pack --silent --pack-destination "$work" | tail -n 1)"
tgz="$work/$tgz"
[ -f "$tgz" ] || fail "npm pack made no tarball"
# The tarball must hold the built CLI and nothing of the tests or contracts.
listing="$(tar -tzf "$tgz")"
grep -qx 'package/dist/src/cli.js' <<<"$listing" || fail "dist/src/cli.js is not in the tarball"
grep -qx 'package/bin/keepctl' <<<"$listing" || fail "bin/keepctl is not in the tarball"
if grep -Eq '^package/(test|contracts|src)/' <<<"$listing"; then fail "the tarball holds test/, contracts/ or src/"; fi

echo "check-pack: npm install -g --prefer-offline into a fresh prefix"
prefix="$work/prefix"
# npm's own cache: the tarballs `npm ci` fetched are used from there. A tarball install resolves its
# dependencies' version ranges from the registry's metadata, which `npm ci` (lock file only) never
# fetches, so --offline fails on a fresh machine; --prefer-offline fetches just that metadata.
cache="$(npm config get cache)"
npm install -g --prefix "$prefix" --prefer-offline --cache "$cache" --no-audit --no-fund --loglevel=error "$tgz" >/dev/null \
  || fail "the install of the tarball failed (is the npm registry reachable? cache: $cache)"
installed="$prefix/lib/node_modules/keepctl"
[ -d "$installed" ] || fail "no $installed after install"
for dev in hardhat typescript vitest solc @keep-network/tbtc @uma/contracts-node graphql; do
  [ ! -e "$installed/node_modules/$dev" ] || fail "devDependency $dev was installed"
done

# The installed CLI, in a home of its own: no config, no .env, no colour.
home="$work/home"
mkdir -p "$home"
kc() { (cd "$home" && env -i PATH="$PATH" HOME="$home" NO_COLOR=1 KEEPCTL_DATA_DIR="$home/data" KEEPCTL_LOCK_DIR="$home/locks" "$prefix/bin/keepctl" "$@"); }

echo "check-pack: keepctl --help / --version"
kc --help >"$work/help.txt" || fail "keepctl --help exited $?"
grep -q 'list-keeps' "$work/help.txt" || fail "keepctl --help does not list list-keeps"
version="$(kc --version)" || fail "keepctl --version exited $?"
want="$(node -p 'require("./package.json").version')"
grep -q "$want" <<<"$version" || fail "keepctl --version says '$version', package.json says $want"

echo "check-pack: keepctl devnet refuses without the dev install"
set +e
kc devnet --port 1 2>"$work/devnet-err.txt"; code=$?
set -e
[ "$code" = 3 ] || fail "keepctl devnet from the install exited $code, want 3: $(cat "$work/devnet-err.txt")"
grep -q 'needs the development install' "$work/devnet-err.txt" || fail "keepctl devnet did not say what to install"

echo "check-pack: devnet from the checkout"
port="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
dep="$work/deployment.devnet.json"
NO_COLOR=1 HOME="$work" KEEPCTL_DATA_DIR="$work/devnet-data" node "$root/bin/keepctl" devnet --port "$port" --out "$dep" --no-rai --no-emp \
  >"$work/devnet.out" 2>"$work/devnet.err" &
devnet_pid=$!
for _ in $(seq 1 600); do
  grep -q 'press Ctrl-C' "$work/devnet.err" 2>/dev/null && break
  kill -0 "$devnet_pid" 2>/dev/null || fail "the devnet exited: $(cat "$work/devnet.err")"
  sleep 0.5
done
grep -q 'press Ctrl-C' "$work/devnet.err" || fail "the devnet was not ready in 5 minutes"

echo "check-pack: installed keepctl check against the devnet"
set +e
kc --deployment "$dep" check --json >"$work/check.json" 2>"$work/check.err"; code=$?
set -e
[ "$code" = 10 ] || fail "keepctl check exited $code, want 10 (at-risk deposits): $(cat "$work/check.err")"
node -e 'const d=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")); const n=JSON.stringify(d).match(/"0x[0-9a-fA-F]{40}"/g)||[]; if(!n.length) process.exit(1)' "$work/check.json" \
  || fail "keepctl check --json printed no deposits"

tgz_kb=$(( $(stat -c %s "$tgz") / 1024 ))
inst_kb="$(du -sk "$installed" | cut -f1)"
inst_apparent_kb="$(du -sk --apparent-size "$installed" | cut -f1)"
files="$(find "$installed" -type f | wc -l)"
echo "check-pack: OK in $((SECONDS - start)) s"
echo "check-pack: tarball $(basename "$tgz") ${tgz_kb} KiB; installed $installed: ${inst_kb} KiB on disk (${inst_apparent_kb} KiB apparent), ${files} files"
