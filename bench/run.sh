#!/usr/bin/env bash
# The benchmark: what one guest command costs through vmtest-min, beside a bare
# socket client doing the same round trip on the same guest, and what bulk output
# costs in time and memory. Figures are measured side by side in one run; compare
# ratios, not absolute numbers (the machine is shared and noisy).
#
#   bench/run.sh [N] [BULK_BYTES]      defaults: N=500 commands, 27000000 bytes
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in bc python3; do
    command -v "$tool" >/dev/null || { echo "bench: needs $tool (apt-get install bc python3)" >&2; exit 2; }
done
n=${1:-500}
bulk=${2:-27000000}
tests/guest/build.sh guest >/dev/null
cargo build --release --quiet
bin=target/release/vmtest-min
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

printf 'machine.succeed "true"\nmachine.shutdown\n' > "$work/one.cmds"
{ echo 'machine.succeed "true"'; for _ in $(seq "$n"); do echo 'machine.succeed "true"'; done
  echo 'machine.shutdown'; } > "$work/many.cmds"
printf 'machine.succeed "true"\nmachine.succeed "{ yes 01234567890123456789012345678901234567890123456789012345678901234567890123 || :; } | head -c %s" contains "0123"\nmachine.shutdown\n' \
    "$bulk" > "$work/bulk.cmds"

run() { # script -> seconds, and the driver's own peak RSS in KiB (VmHWM; QEMU's
         # memory is not counted, which /usr/bin/time's figure would include)
    local start peak=0 pid
    start=$(date +%s.%N)
    "$bin" run "$work/$1" --no-serial --start-scripts guest/run-machine-vm >/dev/null 2>&1 &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        peak=$(awk -v p="$peak" '/^VmHWM/ { p = $2 } END { print p }' "/proc/$pid/status" 2>/dev/null || echo "$peak")
        sleep 0.05
    done
    wait "$pid"
    echo "$(echo "$(date +%s.%N) - $start" | bc -l) $peak"
}

best_one=999; best_many=999
for _ in 1 2 3; do
    read -r one _ < <(run one.cmds)
    read -r many _ < <(run many.cmds)
    best_one=$(echo "if ($one < $best_one) $one else $best_one" | bc -l)
    best_many=$(echo "if ($many < $best_many) $many else $best_many" | bc -l)
done
per_command=$(echo "($best_many - $best_one) * 1000 / $n" | bc -l)
read -r bulk_total bulk_rss < <(run bulk.cmds)
read -r _ one_rss < <(run one.cmds)
bulk_secs=$(echo "$bulk_total - $best_one" | bc -l)

declare -A bare
while read -r name value _; do bare[$name]=$value; done \
    < <(python3 bench/bare_client.py guest/run-machine-vm "$n" "$bulk")

printf '\nper command (%s commands, ms; ratio to the bare builtin round trip):\n' "$n"
for name in builtin subshell vmtest reference; do
    printf '  bare client, %-10s %8.3f  (%.1fx)\n' "$name" "${bare[$name]}" \
        "$(echo "${bare[$name]} / ${bare[builtin]}" | bc -l)"
done
printf '  vmtest-min succeed "true" %6.3f  (%.1fx)\n' "$per_command" \
    "$(echo "$per_command / ${bare[builtin]}" | bc -l)"
printf '\nbulk output, %s bytes of 77-byte lines:\n' "$bulk"
printf '  vmtest-min succeed      %6.2f MB/s, max RSS %s KiB (%s KiB for a trivial run)\n' \
    "$(echo "$bulk / $bulk_secs / 1000000" | bc -l)" "$bulk_rss" "$one_rss"
printf '  bare client, vmtest     %6.2f MB/s\n' "${bare[bulk-vmtest]}"
printf '  bare client, reference  %6.2f MB/s\n' "${bare[bulk-reference]}"
