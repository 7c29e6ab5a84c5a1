#!/usr/bin/env bash
# Builds the Debian package with cpack and checks it: the control fields (dpkg-deb -I), and
# the file list after unpacking it into a scratch root (dpkg-deb -x): binary, units, man
# page, completion, examples; the unit points at the packaged binary; the binary runs.
set -euo pipefail
build_dir=$1 version=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/rdd-check-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "check-deb: $*" >&2; exit 1; }

# A private output directory: ctest may run this in parallel with other tests.
cpack --config "$build_dir/CPackConfig.cmake" -G DEB -B "$work/out" >"$work/cpack.log" 2>&1 ||
  { cat "$work/cpack.log" >&2; fail "cpack failed"; }
debs=("$work"/out/reflinkdedup_*.deb)
[[ ${#debs[@]} -eq 1 && -f ${debs[0]} ]] || fail "expected one reflinkdedup_*.deb, got: ${debs[*]}"
deb=${debs[0]}
arch=$(dpkg --print-architecture)
[[ $(basename "$deb") == "reflinkdedup_${version}_${arch}.deb" ]] || fail "file name $(basename "$deb")"

field() { dpkg-deb -f "$deb" "$1"; }
[[ $(field Package) == reflinkdedup ]] || fail "Package: $(field Package)"
[[ $(field Version) == "$version" ]] || fail "Version: $(field Version)"
[[ $(field Architecture) == "$arch" ]] || fail "Architecture: $(field Architecture)"
[[ $(field Section) == admin ]] || fail "Section: $(field Section)"
[[ $(field Priority) == optional ]] || fail "Priority: $(field Priority)"
[[ -n $(field Maintainer) ]] || fail "no Maintainer"
[[ $(field Description) == *btrfs* ]] || fail "Description: $(field Description)"
depends=$(field Depends)
# From dpkg-shlibdeps: the libraries the binary links.
for lib in libc6 libstdc++6 libsqlite3-0 libbtrfsutil1 liburing2 libxxhash0 libboost-program-options; do
  [[ $depends == *"$lib"* ]] || fail "Depends lacks $lib: $depends"
done
dpkg-deb -I "$deb" >/dev/null || fail "dpkg-deb -I failed"

root=$work/root
dpkg-deb -x "$deb" "$root"
for f in usr/sbin/reflinkdedup \
         lib/systemd/system/reflinkdedup@.service lib/systemd/system/reflinkdedup@.timer \
         usr/share/man/man8/reflinkdedup.8.gz \
         usr/share/bash-completion/completions/reflinkdedup \
         usr/share/doc/reflinkdedup/json-schema.md \
         usr/share/doc/reflinkdedup/examples/reflinkdedup.conf \
         usr/share/doc/reflinkdedup/examples/after-backup.conf; do
  [[ -f $root/$f ]] || fail "missing /$f"
done
# Nothing else: every file is one of the above.
extra=$(cd "$root" && find . -type f | sed 's|^\./||' | grep -v -x -e usr/sbin/reflinkdedup \
  -e 'lib/systemd/system/reflinkdedup@.service' -e 'lib/systemd/system/reflinkdedup@.timer' \
  -e usr/share/man/man8/reflinkdedup.8.gz -e usr/share/bash-completion/completions/reflinkdedup \
  -e usr/share/doc/reflinkdedup/json-schema.md -e 'usr/share/doc/reflinkdedup/examples/.*' || true)
[[ -z $extra ]] || fail "unexpected files: $extra"
[[ -x $root/usr/sbin/reflinkdedup ]] || fail "binary not executable"
[[ $(stat -c %a "$root/usr/sbin/reflinkdedup") == 755 ]] || fail "binary mode $(stat -c %a "$root/usr/sbin/reflinkdedup")"
grep -qx 'ExecStart=/usr/sbin/reflinkdedup dedup-vol %f' "$root/lib/systemd/system/reflinkdedup@.service" ||
  fail "ExecStart in the packaged unit: $(grep ExecStart "$root/lib/systemd/system/reflinkdedup@.service")"
gzip -t "$root/usr/share/man/man8/reflinkdedup.8.gz" || fail "man page is not gzip"
man_head=$(zcat "$root/usr/share/man/man8/reflinkdedup.8.gz" | head -n 1)
[[ $man_head == *"\"reflinkdedup $version\""* ]] || fail "man page header: $man_head"
# Stripped, and it runs.
[[ $(file -b "$root/usr/sbin/reflinkdedup") != *"not stripped"* ]] || fail "binary not stripped"
[[ $("$root/usr/sbin/reflinkdedup" --version) == "reflinkdedup $version" ]] || fail "--version"
echo "check-deb: $(basename "$deb"): $(du -k "$deb" | cut -f1) KiB, Depends: $depends"
