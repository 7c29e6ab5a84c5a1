#!/usr/bin/env bash
# The bash completion against the built binary: commands, a command's options (read from its
# --help), option values, and its loading without bash-completion's helpers installed.
set -euo pipefail
binary=$1 completion=$2
bindir=$(mktemp -d "${TMPDIR:-/tmp}/rdd-completion.XXXXXX")
trap 'rm -rf "$bindir"' EXIT
ln -s "$binary" "$bindir/reflinkdedup"
export PATH=$bindir:$PATH
# shellcheck source=/dev/null
source "$completion"
complete -p reflinkdedup >/dev/null
comp() {
  COMP_WORDS=("$@")
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMPREPLY=()
  _reflinkdedup
  echo "${COMPREPLY[*]}"
}
expect() {
  local want=$1; shift
  local got; got=$(comp "$@")
  [[ $got == "$want" ]] || { echo "completing '$*': got '$got', want '$want'" >&2; exit 1; }
}
expect "scan-vol dedup-vol dedup-files report show-vols reset recover find-new --help --version" reflinkdedup ""
expect "dedup-vol dedup-files" reflinkdedup de
expect "report" reflinkdedup rep
expect "--lock" reflinkdedup dedup-vol --lo
expect "lease immutable none" reflinkdedup dedup-files --lock ""
expect "--json" reflinkdedup -v report --j
expect "--all-changes" reflinkdedup find-new --all
expect "--all" reflinkdedup reset --al
got=$(comp reflinkdedup scan-vol --)
for o in --db --exclude --min-size --config --verbose --quiet --help; do
  [[ " $got " == *" $o "* ]] || { echo "scan-vol -- lacks $o: $got" >&2; exit 1; }
done
[[ $(tr ' ' '\n' <<<"$got" | sort | uniq -d) == "" ]] || { echo "duplicates in: $got" >&2; exit 1; }
echo "completion ok"
