#!/usr/bin/env bash
# systemd-analyze verify on the units as installed, with ExecStart pointing at the built
# binary (verify checks that it is executable) and MANPATH at the built man page (verify
# checks Documentation=man:). Also the example drop-in on a stand-in backup unit, so
# OnSuccess= and the instance name are checked. Any message from verify fails the test:
# unknown keys are only warnings to it.
set -euo pipefail
binary=$1 units_src=$2 man_root=$3
work=$(mktemp -d "${TMPDIR:-/tmp}/rdd-verify-units.XXXXXX")
trap 'rm -rf "$work"' EXIT

sed "s|@RDD_BINARY@|$binary|" "$units_src/reflinkdedup@.service.in" > "$work/reflinkdedup@.service"
cp "$units_src/reflinkdedup@.timer" "$work/"
if grep -q '@RDD_' "$work/reflinkdedup@.service"; then echo "unsubstituted @RDD_...@ in the service" >&2; exit 1; fi
printf '[Unit]\nDescription=stand-in backup\n[Service]\nType=oneshot\nExecStart=/bin/true\n' > "$work/rsync-backup.service"
mkdir "$work/rsync-backup.service.d"
cp "$units_src/after-backup.conf" "$work/rsync-backup.service.d/reflinkdedup.conf"

export MANPATH=$man_root
status=0
for unit in reflinkdedup@mnt-backup.service reflinkdedup@mnt-backup.timer \
            "reflinkdedup@srv-backup\\x2dpool.service" rsync-backup.service; do
  out=$(cd "$work" && systemd-analyze verify "$work/$unit" 2>&1) || status=1
  if [[ -n $out ]]; then
    echo "systemd-analyze verify $unit:" >&2
    echo "$out" >&2
    status=1
  fi
done
# What the hardening amounts to, for the log (systemd's own scale: 0 best, 10 worst).
(cd "$work" && systemd-analyze security --offline=yes --no-pager "$work/reflinkdedup@mnt-backup.service" 2>/dev/null |
  tail -n 1) || true
exit $status
