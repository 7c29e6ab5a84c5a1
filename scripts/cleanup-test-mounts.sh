#!/usr/bin/env bash
# Safety net after a crashed test run (SIGSEGV or SIGKILL skip the fixtures' destructors):
# for every loop device whose backing file lies under ${RDD_TEST_TMPDIR:-/tmp}/reflinkdedup-test.*
# it unmounts every mount of the device, detaches it, and removes the reflinkdedup-test.* dirs.
# Touches nothing else. Do not run it while tests are running: it would pull their filesystems.
# shellcheck disable=SC2317  # the targets_* functions are called indirectly via unmount_all
set -uo pipefail

base="$(realpath -m -- "${RDD_TEST_TMPDIR:-/tmp}")"
# Fixtures name their dirs reflinkdedup-test.XXXXXX (the self-test also uses such a dir as a parent).
prefix="${base%/}/reflinkdedup-test."
did=0

say() { printf 'cleanup-test-mounts: %s\n' "$*"; }

# losetup/findmnt --raw escape blanks and odd bytes as \xHH (and '\' itself as \x5c).
unescape() { printf '%b' "$1"; }

if [ "$(id -u)" -ne 0 ]; then
  say "not root: unmount and detach will likely fail"
fi

# Unmounts a mount point, lazily if it stays busy.
unmount_target() {
  local target=$1
  if umount -- "$target" 2>/dev/null; then
    say "unmounted $target"
  elif umount --lazy -- "$target"; then
    say "unmounted $target (lazy, it was busy)"
  else
    say "FAILED to unmount $target"
  fi
  did=1
}

# Every mount point of a source device, deepest first so nested mounts go before their parents.
targets_of_device() {
  findmnt --noheadings --raw --output TARGET --source "$1" 2>/dev/null |
    while IFS= read -r t; do unescape "$t"; printf '\0'; done
}

# Every mount point inside our temp dirs, whatever its source (e.g. a bind mount made by a test).
targets_under_prefix() {
  findmnt --noheadings --raw --output TARGET 2>/dev/null |
    while IFS= read -r t; do
      t=$(unescape "$t")
      [[ "$t" == "$prefix"* ]] && printf '%s\0' "$t"
    done
}

unmount_all() {
  local -a targets=()
  mapfile -d '' targets < <("$@")
  [ "${#targets[@]}" -gt 0 ] || return 0
  # Longest path first: children before parents.
  mapfile -d '' targets < <(for t in "${targets[@]}"; do printf '%d\t%s\0' "${#t}" "$t"; done |
                            sort -z -rn | cut -z -f2-)
  for t in "${targets[@]}"; do unmount_target "$t"; done
}

# 1. Loop devices backed by an image in one of our dirs.
while IFS= read -r line || [ -n "$line" ]; do
  [ -n "$line" ] || continue
  dev=${line%% *}
  back=$(unescape "${line#* }")
  back=${back% (deleted)}
  [[ "$back" == "$prefix"* ]] || continue
  say "found $dev backed by $back"
  unmount_all targets_of_device "$dev"
  if losetup --detach "$dev"; then
    say "detached $dev"
  else
    say "FAILED to detach $dev"
  fi
  did=1
done < <(losetup --list --noheadings --raw --output NAME,BACK-FILE 2>/dev/null)

# 2. Anything else still mounted inside our dirs.
unmount_all targets_under_prefix

# 3. The dirs themselves; --one-file-system never descends into a mount that survived.
for dir in "$prefix"*; do
  if [ ! -d "$dir" ] || [ -L "$dir" ]; then continue; fi
  if rm -rf --one-file-system -- "$dir"; then
    say "removed $dir"
  else
    say "FAILED to remove $dir"
  fi
  did=1
done

[ "$did" -eq 1 ] || say "nothing to clean up under $prefix*"
exit 0
