#!/usr/bin/env bash
# The benchmark of the guest-shell transport: what vmtest-min costs per command,
# how soon a wait notices its condition, how fast bulk output arrives and whether
# any of it is lost on a loaded host, beside a bare socket client on the same guest
# (bench/bare_client.py: its own QEMU from the same start script, no framing).
#
#   bench/run.sh [START_SCRIPT]    default guest/run-machine-vm (built if missing)
#
# Settings (environment): N=300 commands per timing, ROUNDS=3 (best of), WAITS=20,
# LINES=350650 (77-byte lines: 27 MB), IDLE_RUNS=3, LOADED_RUNS=10, GIGA=38 bulk
# commands back to back (1 GB), UNSHARED=1 (also vmtest-min with the shared
# directory hidden from the guest, i.e. segment fetches over the console: slow,
# so only UNSHARED_IDLE=1 and UNSHARED_LOADED=3 runs, each bounded by
# UNSHARED_TIMEOUT=240 seconds, and the first failure ends the series).
#
# Everything is measured side by side in one run, vmtest-min and the bare client
# taking turns; the machine is shared and noisy, so read the ratios. Loaded means
# two busy loops on the host (`sh -c 'while :; do :; done'`), started and stopped
# here and always killed on exit. It takes 10-30 minutes; it is not part of CI.
# Needs python3 and awk; prints one table on stdout, progress on stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v python3 >/dev/null || { echo "bench: needs python3" >&2; exit 2; }

N=${N:-300} ROUNDS=${ROUNDS:-3} WAITS=${WAITS:-20} LINES=${LINES:-350650}
IDLE_RUNS=${IDLE_RUNS:-3} LOADED_RUNS=${LOADED_RUNS:-10} GIGA=${GIGA:-38}
UNSHARED=${UNSHARED:-1} UNSHARED_IDLE=${UNSHARED_IDLE:-1} UNSHARED_LOADED=${UNSHARED_LOADED:-3}
UNSHARED_TIMEOUT=${UNSHARED_TIMEOUT:-240}
start=${1:-guest/run-machine-vm}
if [ $# -eq 0 ] && [ ! -x "$start" ]; then tests/guest/build.sh guest >/dev/null; fi
[ -x "$start" ] || { echo "bench: no start script $start" >&2; exit 2; }
start=$(readlink -f "$start")
cargo build --release --quiet
bin=$PWD/target/release/vmtest-min
bytes=$((LINES * 77))

work=$(mktemp -d /tmp/bench.XXXXXX)
loops=()
load_off() {
    if [ ${#loops[@]} -gt 0 ]; then
        kill "${loops[@]}" 2>/dev/null || true
        wait "${loops[@]}" 2>/dev/null || true
    fi
    loops=()
}
load_on() {
    local _
    for _ in 1 2; do
        sh -c 'while :; do :; done' &
        loops+=($!)
    done
}
trap 'load_off; rm -rf "$work"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
why() { { grep -m 1 '^!!! error' "$1"; grep -A 1 -m 1 '^!!! console while it ran' "$1" | tail -n 1; } | cut -c 1-160 | paste -sd ' ' -; }
say() { echo "bench $(date -u +%H:%M:%S): $*" >&2; }

# The same start script with the shared directory hidden from vmtest-min: the
# guest mounts an empty directory of its own, the driver's probe file is not there,
# so outputs over 64 KiB are fetched over the console in checked segments.
mkdir "$work/unshared"
cat >"$work/unshared/$(basename "$start")" <<EOF
#!/bin/sh
SHARED_DIR=\$TMPDIR/not-shared; mkdir -p "\$SHARED_DIR"; export SHARED_DIR
exec '$start' "\$@"
EOF
chmod +x "$work/unshared/$(basename "$start")"
unshared=$work/unshared/$(basename "$start")

# vmtest-min runs SCRIPT (in $work) on START, for at most GLOBAL seconds; its log,
# with the guest's serial lines, goes to $work/NAME.log.
vm() {
    local name=$1 script=$2 at=$3
    TMPDIR=$work "$bin" run "$work/$script" --global-timeout "${GLOBAL:-3000}" --start-scripts "$at" \
        >"$work/$name.log" 2>&1
}
# Seconds of a subtest or step, from a vmtest-min log: `secs LOG 'subtest: one true'`.
secs() { awk -v what="(finished: $2, in " 'index($0, what) { print $(NF - 1) }' "$1"; }
best() { sort -g | head -n 1; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
calc() { awk "BEGIN { printf \"%.${2:-2}f\", $1 }"; }

# A vmtest-min statement that writes the bench lines to /tmp/bench.out in the guest.
make_lines() {
    printf "machine.succeed <<'EOF'\nawk -v n=%s '%s' >/tmp/bench.out\nEOF\n" "$LINES" "$(cat bench/bench_lines.awk)"
}
pad='abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_\.,:;!'
# The check on a bulk output: every line has the rhythm of the file (6 digits, the
# pad, newline) and the first and last lines are right. The language has no hash
# on the host side; the whole-buffer losses of the console (2-4 KiB) break the
# rhythm unless a multiple of 77 such buffers went missing in one place.
check="=~ '\\A000001 $pad\\n([0-9]{6} $pad\\n)*$(printf %06d "$LINES") $pad\\n\\z'"

# --- scripts ---------------------------------------------------------------
percmd_script() { # ROUND: N+1 and 1 commands of each kind; round 1 also the waits
    local kind
    echo 'machine.succeed "true"'
    echo 'machine.succeed "/bin/true"'
    for kind in true /bin/true; do
        printf 'subtest "one %s" {\nmachine.succeed "%s"\n}\n' "$kind" "$kind"
        printf 'subtest "many %s" {\n' "$kind"
        for _ in $(seq $((N + 1))); do printf 'machine.succeed "%s"\n' "$kind"; done
        echo '}'
    done
    if [ "$1" = 1 ]; then
        for _ in $(seq "$WAITS"); do
            # In the guest: a background job sleeps 0.3-1.5 s, notes the time and
            # creates the file; the command after the wait notes when it started.
            # Subtracting the same span for two plain commands back to back leaves
            # the time from the file's creation to the end of the try that saw it.
            cat <<'EOF'
machine.succeed <<'END'
rm -f /tmp/f /tmp/f.t
d=$(( RANDOM % 1201 + 300 ))
( sleep "$((d / 1000)).$(printf %03d $((d % 1000)))"; t=$EPOCHREALTIME; : >/tmp/f; echo "$t" >/tmp/f.t ) >/dev/null 2>&1 &
END
machine.wait_until_succeeds "test -e /tmp/f"
w = machine.succeed 't1=${EPOCHREALTIME/./}; until [ -s /tmp/f.t ]; do :; done; read -r t0 </tmp/f.t; echo $(( t1 - ${t0/./} ))'
machine.succeed 'echo ${EPOCHREALTIME/./} >/tmp/rt'
b = machine.succeed 'read -r a </tmp/rt; echo $(( ${EPOCHREALTIME/./} - a ))'
log "BENCH wait ${w} ${b}"
EOF
        done
    fi
    echo 'machine.shutdown'
}

bulk_script() { # FIRST COUNT [OPTION]: checked bulk commands numbered FIRST.. (one subtest each)
    local i
    make_lines
    for i in $(seq "$1" $(($1 + $2 - 1))); do
        printf 'subtest "bulk %s" {\nmachine.succeed "cat /tmp/bench.out" %s %s\n}\n' "$i" "$check" "${3:-}"
    done
    echo 'machine.shutdown'
}

giga_script() {
    make_lines
    echo 'subtest "giga" {'
    for i in $(seq "$GIGA"); do
        printf 'subtest "giga %s" {\nmachine.succeed "cat /tmp/bench.out" contains "%06d "\n}\n' "$i" "$LINES"
    done
    echo 'machine.succeed "echo alive" == "alive"'
    echo '}'
    echo 'machine.shutdown'
}

# --- bulk through vmtest-min, restarting after a failed command ------------------
# vm_bulk NAME START COUNT [OPTION [once]]: appends "MB/s ok|lossy|failed" lines to
# $work/NAME.runs; a failed check or a failed command ends the vmtest-min run, so
# the rest run anew (with "once", they are not run).
vm_bulk() {
    local name=$1 at=$2 count=$3 option=${4:-} once=${5:-} done=0 base try=0 i s log
    : >"$work/$name.runs"
    while [ "$done" -lt "$count" ] && [ "$try" -lt 4 ]; do
        try=$((try + 1)) base=$done log=$work/$name.$try.log
        bulk_script $((done + 1)) $((count - done)) "$option" >"$work/$name.cmds"
        vm "$name.$try" "$name.cmds" "$at" || true
        for i in $(seq $((base + 1)) "$count"); do
            if grep -qF "(finished: subtest: bulk $i," "$log"; then
                s=$(awk 'index($0, "(finished: must succeed: cat /tmp/bench.out") { print $(NF - 1) }' "$log" | sed -n "$((i - base))p")
                echo "$(calc "$bytes / $s / 1e6") ok" >>"$work/$name.runs"
                done=$i
            elif grep -qF "(failed: subtest: bulk $i," "$log"; then
                # Lossy: the check found the output damaged, or the driver said
                # bytes were lost; anything else failed for another reason.
                if grep -qE '^!!! error: .*(does not satisfy|lost)' "$log"; then
                    echo "nan lossy" >>"$work/$name.runs"
                else
                    echo "nan failed" >>"$work/$name.runs"
                fi
                echo "  $name, run $i: $(why "$log")" >>"$work/notes"
                done=$i
                [ -z "$once" ] || break 2
                continue 2
            else
                break
            fi
        done
        [ "$done" -ge "$count" ] || echo "  $name: vmtest-min run $try ended early: $(why "$log")" >>"$work/notes"
        [ -z "$once" ] || break
    done
    # Answers the console damaged and the driver fetched again (not failures).
    cat "$work/$name".*.log | grep -c 'fetched again' >"$work/$name.recovered" || true
}
runs_mbs() { awk '$1 != "nan" { print $1 }' "$1" | median; }
runs_bad() { # "LOSSY of RUNS", and how many failed for another reason
    awk '$2 == "lossy" { l++ } $2 == "failed" { f++ } END { printf "%d of %d%s", l, NR, f ? " (+" f " failed)" : "" }' "$1"
}
bare_cat() { # NAME RUNS: "MB/s LOST ok|lossy" lines in $work/NAME.runs
    python3 bench/bare_client.py "$start" cat "$LINES" "$2" | awk '{ print $2, $4, $3 }' >"$work/$1.runs"
}

: >"$work/notes"
loadavg=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date +%s)

# --- 1 and 2: per command, wait latency ------------------------------------
for r in $(seq "$ROUNDS"); do
    say "per command, round $r of $ROUNDS: vmtest-min"
    percmd_script "$r" >"$work/percmd.$r.cmds"
    vm "percmd.$r" "percmd.$r.cmds" "$start" || echo "  per-command run $r: $(why "$work/percmd.$r.log")" >>"$work/notes"
    say "per command, round $r of $ROUNDS: bare client"
    python3 bench/bare_client.py "$start" rtt "$N" >"$work/bare.$r"
done
cost() { # KIND: ms per command, (best N+1 - best 1) / N
    local many one
    many=$(for r in $(seq "$ROUNDS"); do secs "$work/percmd.$r.log" "subtest: many $1"; done | best)
    one=$(for r in $(seq "$ROUNDS"); do secs "$work/percmd.$r.log" "subtest: one $1"; done | best)
    calc "($many - $one) * 1000 / $N" 3
}
bare_ms() { for r in $(seq "$ROUNDS"); do awk -v k="$1" '$1 == k { print $2 }' "$work/bare.$r"; done | best; }
vm_true=$(cost true) vm_bin=$(cost /bin/true)
bare_builtin=$(bare_ms builtin) bare_sub=$(bare_ms subshell) bare_bin=$(bare_ms subshell-bin) bare_ref=$(bare_ms reference)
awk '$1 == "BENCH" && $2 == "wait" { print $3 / 1000, $4 / 1000, ($3 - $4) / 1000 }' "$work/percmd.1.log" >"$work/waits"
wait_raw=$(cut -d' ' -f1 "$work/waits" | median) wait_rt=$(cut -d' ' -f2 "$work/waits" | median)
wait_lat=$(cut -d' ' -f3 "$work/waits" | median) wait_n=$(wc -l <"$work/waits")
wait_max=$(cut -d' ' -f3 "$work/waits" | sort -g | tail -n 1)

# --- 3: bulk, idle then loaded ------------------------------------------------
say "bulk idle: vmtest-min"
vm_bulk idle-shared "$start" "$IDLE_RUNS"
if [ "$UNSHARED" = 1 ]; then say "bulk idle: vmtest-min, no shared dir"; GLOBAL=$((UNSHARED_TIMEOUT * UNSHARED_IDLE + 300)) vm_bulk idle-unshared "$unshared" "$UNSHARED_IDLE" timeout="$UNSHARED_TIMEOUT" once; fi
say "bulk idle: bare cat"
bare_cat idle-bare "$IDLE_RUNS"
load_on
say "bulk loaded (busy loops ${loops[*]}): vmtest-min"
vm_bulk loaded-shared "$start" "$LOADED_RUNS"
if [ "$UNSHARED" = 1 ]; then say "bulk loaded: vmtest-min, no shared dir"; GLOBAL=$((UNSHARED_TIMEOUT * UNSHARED_LOADED + 300)) vm_bulk loaded-unshared "$unshared" "$UNSHARED_LOADED" timeout="$UNSHARED_TIMEOUT" once; fi
say "bulk loaded: bare cat"
bare_cat loaded-bare "$LOADED_RUNS"
load_off

# --- 4: 1 GB in bulk commands back to back, then one more command ----------------
say "$GIGA bulk commands back to back"
giga_script >"$work/giga.cmds"
if vm giga giga.cmds "$start"; then giga_ok=pass; else giga_ok=FAIL; fi
giga_secs=$(awk '/^\((finished|failed): subtest: giga, in / { print $(NF - 1) }' "$work/giga.log")
giga_done=$(grep -c '(finished: subtest: giga [0-9]' "$work/giga.log" || true)
[ "$giga_ok" = pass ] || echo "  giga: $(why "$work/giga.log")" >>"$work/notes"

# --- the table --------------------------------------------------------------------
row() { printf '%-52s %20s %14s %8s %8s\n' "$@"; }
ratio() { if [ "$2" = nan ] || [ -z "$2" ] || [ "$1" = nan ] || [ -z "$1" ]; then echo -; else echo "$(calc "$1 / $2")x"; fi; }
mb() { [ "$1" = nan ] && echo - || echo "$1 MB/s"; }
is=$(runs_mbs "$work/idle-shared.runs") ib=$(runs_mbs "$work/idle-bare.runs")
ls=$(runs_mbs "$work/loaded-shared.runs") lb=$(runs_mbs "$work/loaded-bare.runs")
echo
echo "vmtest-min transport benchmark: $(basename "$(dirname "$start")")/$(basename "$start"), $(date -u '+%F %H:%M') UTC, $(git rev-parse --short HEAD)"
echo "host: $(nproc) cores, load average at start $loadavg; N=$N, best of $ROUNDS; bulk $bytes bytes ($LINES lines of 77 bytes); $(( ($(date +%s) - started) / 60 )) min"
echo
row "" vmtest-min "bare client" ratio target
row "per command: succeed \"true\" / (true); echo \$?" "$vm_true ms" "$bare_sub ms" "$(ratio "$vm_true" "$bare_sub")" "<=1.1x"
row "per command: succeed \"/bin/true\" / (/bin/true); ..." "$vm_bin ms" "$bare_bin ms" "$(ratio "$vm_bin" "$bare_bin")" "<=1.1x"
row "  bare builtin round trip (echo \$?)" "" "$bare_builtin ms" "" ""
row "  bare NixOS framing (timeout|base64, 2 trips)" "" "$bare_ref ms" "$(ratio "$vm_true" "$bare_ref")" ""
row "wait latency, median of $wait_n (max $wait_max ms)" "$wait_lat ms" "" "" "<=50 ms"
row "  (guest: raw $wait_raw ms - plain round trip $wait_rt ms)" "" "" "" ""
row "bulk idle, shared dir / bare cat (median MB/s)" "$(mb "$is")" "$(mb "$ib")" "$(ratio "$is" "$ib")" ">=1.5x"
row "bulk loaded, shared dir / bare cat" "$(mb "$ls")" "$(mb "$lb")" "$(ratio "$ls" "$lb")" ">=1.5x"
if [ "$UNSHARED" = 1 ]; then
    iu=$(runs_mbs "$work/idle-unshared.runs") lu=$(runs_mbs "$work/loaded-unshared.runs")
    row "bulk idle, no shared dir (segments) / bare cat" "$(mb "$iu")" "$(mb "$ib")" "$(ratio "$iu" "$ib")" ""
    row "bulk loaded, no shared dir (segments) / bare cat" "$(mb "$lu")" "$(mb "$lb")" "$(ratio "$lu" "$lb")" ""
fi
row "runs lossy, idle, shared dir / bare cat" "$(runs_bad "$work/idle-shared.runs")" "$(runs_bad "$work/idle-bare.runs")" "" "0"
row "runs lossy, loaded, shared dir / bare cat" "$(runs_bad "$work/loaded-shared.runs")" "$(runs_bad "$work/loaded-bare.runs")" "" "0"
if [ "$UNSHARED" = 1 ]; then
    row "runs lossy, idle, no shared dir" "$(runs_bad "$work/idle-unshared.runs")" "" "" "0"
    row "runs lossy, loaded, no shared dir" "$(runs_bad "$work/loaded-unshared.runs")" "" "" "0"
fi
row "$GIGA x $bytes bytes then \"echo alive\" ($giga_done done)" "$giga_ok ${giga_secs:-?} s" "" "" "pass"
echo
echo "bare cat bytes lost per run: idle $(awk '{ printf "%s ", $3 }' "$work/idle-bare.runs")/ loaded $(awk '{ printf "%s ", $3 }' "$work/loaded-bare.runs")"
echo "vmtest-min answers the console damaged, fetched again complete (idle/loaded): shared dir $(cat "$work/idle-shared.recovered")/$(cat "$work/loaded-shared.recovered")$([ "$UNSHARED" = 1 ] && echo ", no shared dir $(cat "$work/idle-unshared.recovered")/$(cat "$work/loaded-unshared.recovered")")"
echo "vmtest-min checks: the output's line rhythm and first and last lines (no host-side hash in the language); the driver itself checks the byte count."
if [ -s "$work/notes" ]; then echo "notes:"; cat "$work/notes"; fi
