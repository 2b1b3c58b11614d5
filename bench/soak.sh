#!/usr/bin/env bash
# Soak run (outside CI): the example scripts in a loop for MINUTES minutes
# (default 30) with two busy loops loading the host, then the interactive prompt
# fed the same statements ROUNDS times (default 200). Counts runs whose exit
# status was not the expected one, processes and TMPDIR entries left after each
# run, and the prompt's open file descriptors across rounds: all must stay zero
# (the fds: constant).
#
#   bench/soak.sh               MINUTES=30 ROUNDS=200 LOAD=2
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${MINUTES:-30}
rounds=${ROUNDS:-200}
load=${LOAD:-2}
scratch=$(mktemp -d "${TMPDIR:-/tmp}/vmtest-soak.XXXXXX")
busy=()
cleanup() {
    for pid in "${busy[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$scratch"
}
trap cleanup EXIT
tests/guest/build.sh guest >/dev/null
cargo build --release --quiet
bin=target/release/vmtest-min
for _ in $(seq "$load"); do
    sh -c 'while :; do :; done' &
    busy+=($!)
done

# example -> expected exit status and its start-script arguments
declare -A expect=([hello]=0 [service]=0 [failing]=1 [language]=0 [two-machines]=0)
runs=0 failures=0 left_processes=0 left_tmp=0
deadline=$(( $(date +%s) + minutes * 60 ))
while [ "$(date +%s)" -lt "$deadline" ]; do
    for example in hello service failing language two-machines; do
        tmp=$scratch/tmp && mkdir -p "$tmp"
        case $example in
            two-machines | language)
                args=(--vlans 1 --start-scripts guest/run-client-vm guest/run-server-vm) ;;
            *) args=(--start-scripts guest/run-machine-vm) ;;
        esac
        status=0
        TMPDIR=$tmp timeout 600 "$bin" run --no-serial --log-xml "$scratch/log.xml" \
            "${args[@]}" -- "examples/$example.cmds" >"$scratch/out" 2>&1 || status=$?
        runs=$((runs + 1))
        if [ "$status" -ne "${expect[$example]}" ]; then
            failures=$((failures + 1))
            echo "run $runs ($example): exit $status, expected ${expect[$example]}" >&2
            tail -5 "$scratch/out" >&2
        fi
        python3 -c 'import sys, xml.dom.minidom as m; m.parse(sys.argv[1])' "$scratch/log.xml" \
            || { failures=$((failures + 1)); echo "run $runs ($example): log does not parse" >&2; }
        procs=$(pgrep -f "$tmp" | wc -l || true)
        entries=$(ls -A "$tmp" | wc -l)
        left_processes=$((left_processes + procs))
        left_tmp=$((left_tmp + entries))
        rm -rf "$tmp"
        [ "$(date +%s)" -lt "$deadline" ] || break
    done
done
echo "soak: $runs runs in $minutes min with $load busy loops: $failures failed;" \
    "left behind: $left_processes processes, $left_tmp TMPDIR entries"

# The prompt: one machine, the same statements every round; its fds must not grow.
mkfifo "$scratch/in"
mkdir -p "$scratch/tmp"
TMPDIR=$scratch/tmp "$bin" run -I --no-serial --log-xml "$scratch/prompt.xml" \
    --start-scripts guest/run-machine-vm <"$scratch/in" >"$scratch/prompt.out" 2>&1 &
prompt=$!
exec 9>"$scratch/in"
echo 'machine.succeed "true"' >&9
fds=()
for round in $(seq "$rounds"); do
    printf '%s\n' 'machine.succeed "echo round '"$round"'"' \
        'machine.execute "ls /nonexistent"' 'machine.send_monitor_command "info status"' >&9
    # Wait until the round's output is on the prompt's stdout.
    for _ in $(seq 600); do grep -q "round $round\$" "$scratch/prompt.out" 2>/dev/null && break; sleep 0.1; done
    fds+=("$(ls "/proc/$prompt/fd" | wc -l)")
done
exec 9>&-
wait "$prompt" || true
echo "prompt: $rounds rounds; open fds first/last/max: ${fds[0]}/${fds[-1]}/$(printf '%s\n' "${fds[@]}" | sort -n | tail -1)"
