#!/usr/bin/env bash
# Runs every fuzz target for MINUTES minutes (default 10), one after another, at
# low priority, and prints each target's last status line (runs, coverage).
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
# New inputs go to a scratch corpus; crashes to fuzz/artifacts/TARGET/. Turn each
# crash into a regression: fix it, then copy the input into fuzz/corpus/TARGET/,
# which `cargo test` replays (src/fuzzing.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${MINUTES:-10}
scratch=${SCRATCH:-${TMPDIR:-/tmp}/vmtest-min-fuzz}
targets=("$@")
[ "${#targets[@]}" -gt 0 ] || targets=(script json answer monitor xml)
cargo +nightly fuzz build -O
for target in "${targets[@]}"; do
    mkdir -p "$scratch/$target"
    log="$scratch/$target.log"
    status=0
    nice -n 19 cargo +nightly fuzz run -O "$target" "$scratch/$target" "fuzz/corpus/$target" -- \
        -max_total_time=$((minutes * 60)) -timeout=30 -rss_limit_mb=4096 >"$log" 2>&1 || status=$?
    summary=$(grep -a -E '^#[0-9]+' "$log" | tail -1 || true)
    echo "$target: exit $status; last: ${summary:-none}; $(grep -a '^Done' "$log" || echo 'no Done line')"
done
