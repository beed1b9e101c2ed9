#!/bin/bash
# A/B the end-to-end scheduler bench: alternate runs of another revision and of this checkout.
#   bench/scheduler/ab.sh REV [PAIRS] [bench args...]   e.g. bench/scheduler/ab.sh HEAD~3 3
# REV is built in a temporary git worktree (sharing this checkout's node_modules) and removed at
# the end. Each pair runs REV first, then this checkout (build it first: npm run build); prints
# throughput and server CPU per run and the medians.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
rev=${1:?usage: bench/scheduler/ab.sh REV [PAIRS] [bench args...]}
pairs=${2:-3}
shift $(( $# >= 2 ? 2 : 1 ))
args=("$@")
[ ${#args[@]} -gt 0 ] || args=(--nodes 5000 --pods 10000)
base=$(mktemp -d /tmp/k8ts-ab-XXXXXX)
cleanup() { git -C "$here" worktree remove --force "$base" >/dev/null 2>&1 || rm -rf "$base"; }
trap cleanup EXIT
git -C "$here" worktree add --detach "$base" "$rev" >/dev/null 2>&1
ln -s "$here/node_modules" "$base/node_modules"
echo "building $rev in $base ..."
(cd "$base" && npm run build >/dev/null 2>&1) || { echo "build of $rev failed" >&2; exit 1; }
declare -a tA=() tB=() cA=() cB=()
run() { # dir -> "pods/s server-cpu-s"
  local out; out=$(cd "$1" && node --import tsx bench/scheduler/api.ts "${args[@]}" 2>&1)
  echo "$(grep -oP 'THROUGHPUT: \K[0-9]+' <<<"$out") $(grep -oP 'server process \K[0-9.]+' <<<"$out")"
}
for i in $(seq 1 "$pairs"); do
  read -r t c < <(run "$base"); tA+=("$t"); cA+=("$c"); echo "pair $i: $rev $t pods/s, server ${c} s"
  read -r t c < <(run "$here"); tB+=("$t"); cB+=("$c"); echo "pair $i: this checkout $t pods/s, server ${c} s"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
echo "median: $rev $(median "${tA[@]}") pods/s (server $(median "${cA[@]}") s); this checkout $(median "${tB[@]}") pods/s (server $(median "${cB[@]}") s)"
