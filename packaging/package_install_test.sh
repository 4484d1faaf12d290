#!/bin/bash
# package_install_test BUILD_DIR VERSION: the .deb builds (cpack into a scratch directory),
# unpacks with `dpkg -x` into a scratch root, holds its files where the README says,
# `systemd-analyze verify` accepts both units, and the unpacked duplex deploys a pair from the
# unpacked example config, writes and reads a key through it, and stops it. The config is
# changed only in its data_dir, its ports (127.0.0.1:48000-48099) and its install prefix
# (/usr/lib/duplex -> the scratch root's); the units only in theirs (verify needs ExecStart's
# binary to exist). Every process started is stopped by its pid, also when the test fails.
set -euo pipefail
build=$(cd "$1" && pwd)
version=$2
scratch=$(mktemp -d /tmp/duplex-package-test.XXXXXX)
root=$scratch/root
data=$scratch/data
duplex=$root/usr/bin/duplex

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# Every duplex process of this test: the pids in the data directory's pid files, each checked
# to be ours (its command line names the scratch directory). The coordinator and the agent
# first, so that nothing restarts a replica killed after them; then the replicas, polled
# (bounded) until no pid file names a live process of ours.
ours() {
  tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q "$scratch"
}
stop_pids_in() {
  local file pid alive=1
  for file in "$@"; do
    [ -f "$file" ] || continue
    pid=$(head -c 20 "$file" | tr -dc 0-9)
    if [ -n "$pid" ] && ours "$pid"; then
      kill -9 "$pid" 2>/dev/null || true
      alive=0
    fi
  done
  return $alive
}
stop_everything() {
  [ -d "$data" ] || return 0
  stop_pids_in "$data/coordinator.pid" "$data"/agent-*/owner.pid || true
  local deadline=$((SECONDS + 5))
  while ((SECONDS < deadline)) && stop_pids_in $(find "$data" -name '*.pid' 2>/dev/null); do
    sleep 0.1
  done
}
cleanup() {
  stop_everything
  rm -rf "$scratch"
}
trap cleanup EXIT

# 1. The .deb builds.
started=$(date +%s)
(cd "$build" && cpack -G DEB -B "$scratch/cpack" >"$scratch/cpack.log" 2>&1) ||
  { cat "$scratch/cpack.log"; fail "cpack -G DEB failed"; }
deb=$scratch/cpack/duplex_${version}_amd64.deb
[ -f "$deb" ] || fail "cpack made no $deb: $(ls "$scratch/cpack")"
echo "built $(basename "$deb") ($(du -k "$deb" | cut -f1) KiB) in $(($(date +%s) - started)) s"

# 2. Its control data: the runtime libraries as dependencies, the conffiles, the scripts.
dpkg-deb --field "$deb" Depends >"$scratch/depends"
# RocksDB is linked statically (Debian ships librocksdb.a): its compression libraries show.
for lib in libzmq5 libsodium libssl libcapnp libsnappy adduser; do
  grep -q "$lib" "$scratch/depends" || fail "Depends lacks $lib: $(cat "$scratch/depends")"
done
dpkg-deb --ctrl-tarfile "$deb" | tar -t >"$scratch/control-files"
for f in conffiles postinst postrm; do
  grep -q "$f" "$scratch/control-files" || fail "no $f in the control archive"
done
dpkg-deb --info "$deb" conffiles | grep -qx /etc/duplex/cluster.yaml || fail "cluster.yaml is no conffile"

# 3. Unpacked, its files are where the README says.
dpkg -x "$deb" "$root"
for f in usr/bin/duplex \
  usr/lib/duplex/packages/kv-1.0.0/kv-1.0.0 usr/lib/duplex/packages/kv-1.0.0/manifest.yaml \
  usr/lib/duplex/packages/kv-2.0.0/kv-2.0.0 usr/lib/duplex/packages/kv-2.0.0/manifest.yaml \
  etc/duplex/cluster.yaml etc/default/duplex \
  lib/systemd/system/duplex-agent.service lib/systemd/system/duplex-coordinator.service \
  usr/share/man/man1/duplex.1.gz usr/share/bash-completion/completions/duplex; do
  [ -e "$root/$f" ] || fail "/$f is not in the package"
done
[ -d "$root/var/lib/duplex" ] || fail "/var/lib/duplex is not in the package"
file -b "$duplex" | grep -q "not stripped" && fail "/usr/bin/duplex is not stripped"
"$duplex" --version | grep -qx "duplex $version" || fail "duplex --version: $("$duplex" --version)"
zcat "$root/usr/share/man/man1/duplex.1.gz" | grep -q '^\.SH SUBCOMMANDS' || fail "man page has no SUBCOMMANDS"
# The completion offers the subcommands and a subcommand's flags.
completions() {
  bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _duplex; echo "${COMPREPLY[*]}"' \
    _ "$root/usr/share/bash-completion/completions/duplex" "$@"
}
completions duplex sw | grep -qw switchover || fail "completion of 'duplex sw': $(completions duplex sw)"
completions duplex status --j | grep -qw -- --json || fail "completion of 'duplex status --j'"
# The installed packages verify: their manifests' sha256 are those of the stripped binaries.
for p in kv-1.0.0 kv-2.0.0; do
  want=$(sed -n 's/^sha256: //p' "$root/usr/lib/duplex/packages/$p/manifest.yaml")
  got=$(sha256sum "$root/usr/lib/duplex/packages/$p/$p" | cut -d' ' -f1)
  [ "$want" = "$got" ] || fail "$p: manifest sha256 $want, binary $got"
done

# 4. systemd-analyze verify accepts both units (ExecStart's binary is the scratch root's).
mkdir -p "$scratch/units"
for unit in duplex-agent.service duplex-coordinator.service; do
  sed "s|/usr/bin/duplex|$duplex|g" "$root/lib/systemd/system/$unit" >"$scratch/units/$unit"
  grep -q '^ExecStop' "$scratch/units/$unit" && fail "$unit runs a command on stop"
done
grep -qx 'KillMode=process' "$scratch/units/duplex-agent.service" || fail "the agent's unit kills its replicas"
SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no "$scratch"/units/*.service \
  >"$scratch/verify.log" 2>&1 || { cat "$scratch/verify.log"; fail "systemd-analyze verify"; }
# verify exits 0 on some warnings: none may name our units.
if grep -q "duplex-" "$scratch/verify.log"; then cat "$scratch/verify.log"; fail "systemd-analyze verify warned"; fi

# 5. The unpacked duplex deploys a pair from the unpacked example config.
config=$scratch/cluster.yaml
sed -e "s|^data_dir: .*|data_dir: $data|" -e "s|/usr/lib/duplex|$root/usr/lib/duplex|" \
  -e 's/\b74\([0-2][0-9]\)\b/480\1/g' "$root/etc/duplex/cluster.yaml" >"$config"
grep -q 48000 "$config" && grep -q "$data" "$config" || fail "the config was not adjusted: $(cat "$config")"
export DUPLEX_STATE_DIR=$scratch/state  # not the machine's /var/lib/duplex
mkdir -p "$DUPLEX_STATE_DIR"
timeout 60 "$duplex" up -c "$config" || fail "duplex up (logs in $data)"
timeout 20 "$duplex" -c "$config" kv put installed yes || fail "duplex kv put"
[ "$(timeout 20 "$duplex" -c "$config" kv get installed)" = yes ] || fail "duplex kv get"
# `up` remembered the cluster in DUPLEX_STATE_DIR: later commands need no -c.
[ "$(timeout 20 "$duplex" kv get installed)" = yes ] || fail "duplex kv get without -c"
timeout 20 "$duplex" status -c "$config" | grep -q Active || fail "duplex status shows no active"
# The installed kv 2.0.0 package, named bare (found in <prefix>/lib/duplex/packages), verifies
# in the coordinator: its manifest's sha256 is that of the stripped binary.
(cd "$scratch" && timeout 30 "$duplex" package add kv-2.0.0) | grep -q "stored kv 2.0.0" ||
  fail "duplex package add kv-2.0.0 (the installed package)"
timeout 60 "$duplex" down -c "$config" || fail "duplex down"
echo "PASS: the .deb installs, its units verify, and its duplex runs a pair"
