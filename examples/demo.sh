#!/usr/bin/env bash
# Runs a real test on the project's default guest, from a fresh Debian machine:
# installs what is missing (as root, with apt-get), builds the guest and the
# binary if needed, then runs an example script with `vmtest-min run`.
#
#   examples/demo.sh                 # examples/hello.cmds on one machine
#   examples/demo.sh two-machines    # two machines on vlan 1
#   examples/demo.sh service         # waiting for a service
#   examples/demo.sh failing         # what a failure looks like (exits 1)
#   examples/demo.sh language        # values, asserts, loops, procedures, retry
set -euo pipefail
cd "$(dirname "$0")/.."
example=${1:-hello}
script=examples/$example.cmds
[ -f "$script" ] || { echo "demo: no example \`$script\`" >&2; exit 2; }

if ! command -v cargo >/dev/null; then
    echo "demo: cargo is missing: install Rust (https://rustup.rs) first" >&2
    exit 2
fi

# Packages for QEMU, the vlan switch and the guest build.
tests/guest/build.sh guest

cargo build --release --quiet
case $example in
    two-machines | language)
        exec target/release/vmtest-min run --vlans 1 \
            --start-scripts guest/run-client-vm guest/run-server-vm -- "$script" ;;
    *)
        exec target/release/vmtest-min run --start-scripts guest/run-machine-vm -- "$script" ;;
esac
