#!/usr/bin/env bash
# Runs fuzz targets one after another at low priority, each for SECONDS seconds
# (default 600), and prints each target's exit status and last status line (runs,
# coverage). Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
#
#   fuzz/run.sh [TARGET...]        default: every target in fuzz/Cargo.toml
#
# New inputs go to a fresh scratch corpus (printed; removed unless KEEP=1);
# crashes to fuzz/artifacts/TARGET/. Turn each crash into a regression: fix it,
# then copy the input into fuzz/corpus/TARGET/, which `cargo test` replays
# (src/fuzzing.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${SECONDS_EACH:-600}
case $seconds in
    '' | *[!0-9]* | 0) echo "fuzz/run.sh: SECONDS_EACH must be a whole number of seconds above 0" >&2; exit 2 ;;
esac
targets=("$@")
[ "${#targets[@]}" -gt 0 ] || mapfile -t targets < <(sed -n 's/^name = "\([a-z_]*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^vmtest-min-fuzz$')
scratch=$(mktemp -d "${TMPDIR:-/tmp}/vmtest-min-fuzz.XXXXXX")
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$scratch"' EXIT
echo "scratch corpus and logs: $scratch"
nice -n 19 cargo +nightly fuzz build -O
for target in "${targets[@]}"; do
    mkdir -p "$scratch/$target"
    log="$scratch/$target.log"
    status=0
    nice -n 19 cargo +nightly fuzz run -O "$target" "$scratch/$target" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -timeout=30 -rss_limit_mb=4096 >"$log" 2>&1 || status=$?
    summary=$(grep -a -E '^#[0-9]+' "$log" | tail -1 || true)
    echo "$target: exit $status; last: ${summary:-none}"
    [ "$status" -eq 0 ] || grep -a -E 'panicked at|SUMMARY|Test unit written' "$log" | head -5
done
