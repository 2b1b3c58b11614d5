#!/usr/bin/env bash
# Scale run (outside CI): N busybox machines (default 16) in one script, started
# together; each runs commands, then all shut down. Prints the driver's peak RSS,
# threads and open fds (sampled every 0.2 s from /proc), the time until every
# machine answered, the total time, and what was left behind (processes of the
# run, entries in its TMPDIR): both must be zero.
#
#   bench/scale.sh [N]          VMTEST_MEMORY=MiB per guest (default 192)
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-16}
scratch=$(mktemp -d "${TMPDIR:-/tmp}/vmtest-scale.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
names=()
for i in $(seq -w 1 "$count"); do names+=("m$i"); done
# The guest's files are hard links to guest/ (built there if missing); only the
# start scripts are written anew, for these names.
tests/guest/build.sh guest >/dev/null
cp -al guest "$scratch/guest"
rm -f "$scratch"/guest/run-*-vm
tests/guest/build.sh "$scratch/guest" "${names[@]}" >/dev/null
cargo build --release --quiet
starts=()
for name in "${names[@]}"; do starts+=("$scratch/guest/run-$name-vm"); done
cat >"$scratch/scale.cmds" <<'CMDS'
start_all
for m in machines {
    m.succeed "true"
}
log "all connected"
for m in machines {
    m.succeed "uname -r; cat /proc/meminfo | head -1" contains "MemTotal"
    m.succeed "head -c 100000 /dev/urandom | md5sum" =~ "^[0-9a-f]{32}"
}
for m in machines {
    m.shutdown
}
CMDS
mkdir "$scratch/tmp"
export VMTEST_MEMORY=${VMTEST_MEMORY:-192}
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
start=$(now_ms)
TMPDIR=$scratch/tmp target/release/vmtest-min run --no-serial -o "$scratch/out" \
    --start-scripts "${starts[@]}" -- "$scratch/scale.cmds" >"$scratch/stdout" 2>"$scratch/stderr" &
driver=$!
peak_threads=0 peak_fds=0 connected=""
while kill -0 "$driver" 2>/dev/null; do
    if [ -r "/proc/$driver/status" ]; then
        threads=$(awk '/^Threads:/ { print $2 }' "/proc/$driver/status" 2>/dev/null || echo 0)
        fds=$(ls "/proc/$driver/fd" 2>/dev/null | wc -l)
        [ "${threads:-0}" -gt "$peak_threads" ] && peak_threads=$threads
        [ "$fds" -gt "$peak_fds" ] && peak_fds=$fds
        hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$driver/status" 2>/dev/null || echo "$hwm")
    fi
    if [ -z "$connected" ] && grep -q "all connected" "$scratch/stderr" 2>/dev/null; then
        connected=$(( $(now_ms) - start ))
    fi
    sleep 0.2
done
status=0
wait "$driver" || status=$?
total=$(( $(now_ms) - start ))
left_processes=$(pgrep -f "$scratch" | wc -l || true)
left_tmp=$(ls -A "$scratch/tmp" | wc -l)
echo "machines: $count ($VMTEST_MEMORY MiB each); exit status: $status"
echo "driver peak RSS: ${hwm:-?} kB; peak threads: $peak_threads; peak open fds: $peak_fds"
echo "all connected after: ${connected:-never} ms; total: $total ms"
echo "left behind: $left_processes processes, $left_tmp entries in TMPDIR"
[ "$status" -eq 0 ] || tail -20 "$scratch/stderr"
