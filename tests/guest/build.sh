#!/usr/bin/env bash
# tests/guest/build.sh: build the vmtest-min test guest.
#
# Usage: tests/guest/build.sh DIR [NAME...]      (default names: machine client server)
#
# Builds, cached in DIR, a small busybox-based Linux guest that follows the
# NixOS test-instrumentation contract, and one NixOS-style QEMU start script
# per machine name:
#
#   DIR/kernel/bzImage        Debian's generic kernel (the package that
#                             linux-image-amd64 depends on; apt-get download +
#                             dpkg-deb -x, nothing is installed)
#   DIR/kernel/vmlinux        the same kernel unpacked, booted through its PVH
#                             entry: no xz decompression in the guest, which
#                             under TCG made the bzImage start 5-7 s later
#   DIR/kernel/root/lib/modules/<version>/  only the modules the guest loads
#   DIR/initrd                uncompressed newc cpio: busybox-static with its
#                             applet links, bash-static as /bin/bash, those
#                             modules and the files under tests/guest/rootfs/
#   DIR/run-NAME-vm           start script for machine NAME (always rewritten)
#
# Node numbers are 1.. in sorted order of the names, as NixOS numbers nodes.
# The names reach the guest on the kernel command line (vmtest.name=,
# vmtest.node=, vmtest.hosts=), so other names need no new initrd.
#
# The guest (see rootfs/init, rootfs/lib/vmtest/*):
#   - busybox init with an inittab; poweroff (quick: units stopped, 9p
#     unmounted, sync) powers off, ctrl-alt-delete reboots (QEMU's -no-reboot
#     turns that into an exit);
#   - loads the virtio, virtio-net, virtio-console, virtio-rng and 9p modules;
#     hostname = machine name; lo, eth0 = 10.0.2.15/24 (user-mode net), vlan
#     NICs (MAC 52:54:00:12:<vlan>:<node>, eth1...) = 192.168.<vlan>.<node>/24;
#     /etc/hosts names every machine as 192.168.1.<node>;
#   - mounts the 9p tag "shared" on /tmp/shared when QEMU offers it;
#   - the backdoor: a root bash on /dev/hvc0 (stdin/stdout; stderr on ttyS0),
#     announced with "Spawning backdoor root shell..." (vmtest.handshake=old:
#     a bare newline instead), respawned by init;
#   - a getty on tty1, a small systemctl stand-in (/etc/units/*.service);
#   - kernel parameters (through QEMU_KERNEL_PARAMS): vmtest.panic=1 (kernel
#     panic during boot), vmtest.nobackdoor=1 (boots, but no backdoor),
#     vmtest.handshake=old (2021-style handshake), vmtest.debug=1 (timestamps
#     of the boot steps on the serial console).
#
# The start scripts read TMPDIR, USE_TMPDIR, SHARED_DIR, QEMU_OPTS,
# QEMU_KERNEL_PARAMS, QEMU_NET_OPTS and QEMU_VDE_SOCKET_<n> like the ones
# qemu-vm.nix writes, plus VMTEST_ACCEL (default tcg), VMTEST_QEMU,
# VMTEST_MEMORY and VMTEST_KERNEL; the comment at the top of each says how.
#
# Caching: the kernel part is redone only when missing (or when the module
# list below changes); the initrd when it is older than this script, a file
# under rootfs/ or the kernel part. VMTEST_REBUILD=1 forces both.
# VMTEST_KERNEL_PACKAGE=linux-image-... picks another Debian kernel package.
#
# Needs Debian (apt-get, dpkg-deb) and the packages qemu-system-x86 vde2
# busybox-static bash-static cpio kmod xz-utils; as root it installs missing
# ones itself, otherwise it says what to install.

set -euo pipefail
# depmod, modprobe and mknod live in sbin, which a user's PATH may lack.
export PATH=$PATH:/usr/sbin:/sbin

SELF=$(readlink -f "${BASH_SOURCE[0]}")
HERE=$(dirname "$SELF")
ROOTFS=$HERE/rootfs
PROG=${0##*/}

# Guest modules, in load order; builtin ones are skipped, dependencies added.
MODULES=(virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci
    virtio_console failover net_failover virtio_net virtio-rng
    netfs fscache 9pnet 9pnet_virtio 9p)
# Bump to make existing DIRs redo the kernel part.
KERNEL_STAGE=1
DEFAULT_NAMES=(machine client server)
ALL_PACKAGES="qemu-system-x86 vde2 busybox-static bash-static cpio kmod xz-utils"

msg() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() {
    printf '%s: error: %s\n' "$PROG" "$*" >&2
    exit 1
}

usage() {
    cat >&2 <<EOF
usage: $PROG DIR [NAME...]
Builds a busybox test guest (kernel, initrd) in DIR, cached, and writes
DIR/run-NAME-vm for each NAME (default: ${DEFAULT_NAMES[*]}).
EOF
    exit 2
}

[[ $# -ge 1 ]] || usage
case "$1" in -h | --help) usage ;; esac
DIR=$1
shift
if [[ $# -gt 0 ]]; then NAMES=("$@"); else NAMES=("${DEFAULT_NAMES[@]}"); fi

for n in "${NAMES[@]}"; do
    [[ $n =~ ^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$ ]] ||
        die "bad machine name '$n': use letters, digits, '-' and '_' (at most 63, not starting with - or _)"
done
mapfile -t NAMES < <(printf '%s\n' "${NAMES[@]}" | LC_ALL=C sort -u)
[[ ${#NAMES[@]} -le 254 ]] || die "at most 254 machines (node numbers go into 192.168.1.N)"
HOSTS=$(
    IFS=,
    printf '%s' "${NAMES[*]}"
)
# The names travel on the kernel command line (2048 bytes on x86, with room
# left here for the fixed part and QEMU_KERNEL_PARAMS).
[[ ${#HOSTS} -le 1200 ]] || die "the machine names are too long together (${#HOSTS} bytes, at most 1200)"

# ---------------------------------------------------------------------------
# Packages

# pkg_missing PKG: true when PKG's command (or package) is not there.
pkg_missing() {
    case "$1" in
        qemu-system-x86) ! command -v qemu-system-x86_64 >/dev/null ;;
        vde2) ! command -v vde_switch >/dev/null ;;
        busybox-static)
            [[ $(dpkg-query -W -f='${Status}' busybox-static 2>/dev/null) != *" installed" ]] ;;
        bash-static) ! command -v bash-static >/dev/null ;;
        cpio) ! command -v cpio >/dev/null ;;
        kmod) ! command -v depmod >/dev/null || ! command -v modprobe >/dev/null ;;
        xz-utils) ! command -v xz >/dev/null ;;
        *) die "internal: unknown package $1" ;;
    esac
}

# need_packages PKG...: install what is missing (as root) or fail saying what.
need_packages() {
    local missing=() p
    for p in "$@"; do
        if pkg_missing "$p"; then missing+=("$p"); fi
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    if ! command -v apt-get >/dev/null || ! command -v dpkg-query >/dev/null; then
        die "missing: ${missing[*]}; this script needs a Debian system with apt-get (Debian 12 or later) to get them; there: apt-get install $ALL_PACKAGES"
    fi
    if [[ $(id -u) -ne 0 ]]; then
        die "missing Debian packages: ${missing[*]}; install them as root: apt-get install ${missing[*]}  (all this script uses: apt-get install $ALL_PACKAGES)"
    fi
    msg "installing missing packages: ${missing[*]}"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2; then
        msg "apt-get install failed; running apt-get update and trying again"
        DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 ||
            die "apt-get update failed (no network or no Debian mirror?); needed: apt-get install ${missing[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2 ||
            die "apt-get install ${missing[*]} failed"
    fi
    for p in "${missing[@]}"; do
        if pkg_missing "$p"; then die "package $p is installed but its program is still missing"; fi
    done
}

# ---------------------------------------------------------------------------
# DIR, lock, scratch space

bad_dir() { [[ $1 == *[\'\"\\\$\`]* ]]; }
! bad_dir "$DIR" || die "DIR must not contain quotes, backslashes, \$ or backquotes: $DIR"
mkdir -p "$DIR" || die "cannot create $DIR"
DIR=$(cd "$DIR" && pwd -P)
! bad_dir "$DIR" || die "DIR must not contain quotes, backslashes, \$ or backquotes: $DIR"
[[ -w $DIR ]] || die "$DIR is not writable"
if command -v flock >/dev/null; then
    exec 9>"$DIR/.lock"
    flock 9
fi

SCRATCH=
cleanup() {
    if [[ -n $SCRATCH ]]; then rm -rf "$SCRATCH"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

scratch() {
    if [[ -z $SCRATCH ]]; then SCRATCH=$(mktemp -d "$DIR/.build.XXXXXX"); fi
}

# ---------------------------------------------------------------------------
# Kernel part: DIR/kernel/{bzImage,vmlinux,root/lib/modules/...,stamp}

KDIR=$DIR/kernel
KSTAMP="stage=$KERNEL_STAGE${VMTEST_KERNEL_PACKAGE:+ package=$VMTEST_KERNEL_PACKAGE} modules=${MODULES[*]}"

kernel_fresh() {
    [[ ${VMTEST_REBUILD:-} != 1 && -f $KDIR/stamp && -f $KDIR/bzImage && -f $KDIR/version ]] &&
        [[ $(<"$KDIR/stamp") == "$KSTAMP" ]]
}

resolve_kernel_package() {
    local pkg
    if [[ -n ${VMTEST_KERNEL_PACKAGE:-} ]]; then
        printf '%s\n' "$VMTEST_KERNEL_PACKAGE"
        return
    fi
    pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
        awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }') || true
    if [[ -z $pkg && $(id -u) -eq 0 ]]; then
        msg "apt-cache knows no linux-image-amd64; running apt-get update"
        apt-get update -q >&2 || die "apt-get update failed (no network or no Debian mirror?)"
        pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
            awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }') || true
    fi
    [[ -n $pkg ]] || die "cannot tell which kernel package linux-image-amd64 depends on ('apt-cache depends linux-image-amd64' found none); run 'apt-get update' as root, or set VMTEST_KERNEL_PACKAGE=linux-image-<version>-amd64"
    printf '%s\n' "$pkg"
}

download_kernel() { # PKG DESTDIR
    local pkg=$1 dest=$2
    if (cd "$dest" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >&2); then return 0; fi
    if [[ $(id -u) -eq 0 ]]; then
        msg "apt-get download $pkg failed; running apt-get update and trying again"
        if apt-get update -q >&2 && (cd "$dest" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >&2); then
            return 0
        fi
    fi
    die "could not download the kernel package $pkg with 'apt-get download $pkg' (no network, no Debian mirror, or stale apt lists: run 'apt-get update' as root)"
}

build_kernel() {
    need_packages kmod xz-utils
    command -v apt-get >/dev/null || die "apt-get not found: this script downloads Debian's kernel package and needs a Debian system"
    command -v dpkg-deb >/dev/null || die "dpkg-deb not found: this script needs a Debian system (package dpkg)"
    scratch
    local pkg deb x kver new mods m out line rel order=() seen=" "
    pkg=$(resolve_kernel_package)
    msg "kernel: downloading $pkg"
    mkdir -p "$SCRATCH/dl"
    download_kernel "$pkg" "$SCRATCH/dl"
    deb=$(find "$SCRATCH/dl" -maxdepth 1 -name '*.deb' -print -quit)
    [[ -n $deb ]] || die "apt-get download $pkg produced no .deb file"
    x=$SCRATCH/x
    mkdir -p "$x"
    msg "kernel: unpacking $(basename "$deb")"
    dpkg-deb -x "$deb" "$x" || die "dpkg-deb -x $deb failed (disk full?)"
    rm -f "$deb"
    kver=$(find "$x/lib/modules" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | head -n 1)
    [[ -n $kver && -f $x/boot/vmlinuz-$kver ]] || die "$pkg holds no /boot/vmlinuz-* with /lib/modules/*"
    depmod -b "$x" "$kver" || die "depmod failed on $pkg's modules"

    new=$SCRATCH/kernel
    mods=$new/root/lib/modules/$kver
    mkdir -p "$mods"
    for m in "${MODULES[@]}"; do
        if ! out=$(modprobe -d "$x" -S "$kver" --show-depends "$m" 2>&1); then
            msg "warning: module $m is neither built in nor shipped in $pkg; skipped"
            continue
        fi
        while read -r line; do
            case "$line" in
                builtin\ *) ;;
                insmod\ *)
                    rel=${line#insmod }
                    rel=${rel%% *}
                    rel=${rel#"$x/lib/modules/$kver/"}
                    if [[ $seen != *" $rel "* ]]; then
                        seen+="$rel "
                        order+=("$rel")
                        mkdir -p "$mods/$(dirname "$rel")"
                        cp "$x/lib/modules/$kver/$rel" "$mods/$rel"
                    fi
                    ;;
            esac
        done <<<"$out"
    done
    printf '%s\n' "${order[@]}" >"$mods/vmtest-load-order"
    cp "$mods/vmtest-load-order" "$mods/modules.order"
    cp "$x/lib/modules/$kver/modules.builtin" "$x/lib/modules/$kver/modules.builtin.modinfo" "$mods/" 2>/dev/null || true
    depmod -b "$new/root" "$kver" || die "depmod failed on the guest's module tree"
    cp "$x/boot/vmlinuz-$kver" "$new/bzImage"
    cp "$x/boot/config-$kver" "$new/config" 2>/dev/null || true
    extract_vmlinux "$new/bzImage" "$new/vmlinux" ||
        msg "warning: could not unpack vmlinux from the bzImage; the start scripts boot the bzImage"
    printf '%s\n' "$kver" >"$new/version"
    printf '%s\n' "$pkg" >"$new/package"
    printf '%s\n' "$KSTAMP" >"$new/stamp"
    rm -rf "$x" "$KDIR.old"
    if [[ -e $KDIR ]]; then mv "$KDIR" "$KDIR.old"; fi
    mv "$new" "$KDIR"
    rm -rf "$KDIR.old"
    msg "kernel: $kver, modules: ${#order[@]} loadable (others built in)"
}

# extract_vmlinux BZIMAGE OUT: the xz payload of a bzImage is the ELF vmlinux.
extract_vmlinux() {
    local bz=$1 out=$2 off
    off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$bz" 2>/dev/null | head -n 1 | cut -d: -f1) || true
    [[ -n $off ]] || return 1
    tail -c "+$((off + 1))" "$bz" | xz -dc --single-stream >"$out.tmp" 2>/dev/null || true
    if [[ -s $out.tmp && $(head -c 4 "$out.tmp" | od -An -c | tr -d ' ') == '177ELF' ]]; then
        mv "$out.tmp" "$out"
        return 0
    fi
    rm -f "$out.tmp"
    return 1
}

# ---------------------------------------------------------------------------
# Initrd: DIR/initrd

INITRD=$DIR/initrd

initrd_fresh() {
    [[ ${VMTEST_REBUILD:-} != 1 && -f $INITRD && $INITRD -nt $SELF && $INITRD -nt $KDIR/stamp ]] &&
        [[ -z $(find "$ROOTFS" -newer "$INITRD" -print -quit) ]]
}

build_initrd() {
    need_packages busybox-static bash-static cpio
    [[ -d $ROOTFS ]] || die "missing $ROOTFS (the guest's own files, next to this script)"
    scratch
    local s=$SCRATCH/initrd busybox bash p d up f
    busybox=$(command -v busybox || true)
    [[ -x /bin/busybox ]] && busybox=/bin/busybox
    bash=$(command -v bash-static)
    rm -rf "$s"
    mkdir -p "$s"/{bin,sbin,usr/bin,usr/sbin,usr/local/bin,lib,dev,proc,sys,tmp,run,root,etc,srv,mnt,var}
    cp "$busybox" "$s/bin/busybox"
    # Applet links, relative so that nothing here points into the build host.
    while read -r p; do
        case "$p" in */*) ;; *) continue ;; esac
        [[ -e $s/$p || -L $s/$p ]] && continue
        d=${p%/*} up=..
        while [[ $d == */* ]]; do
            d=${d#*/}
            up+=/..
        done
        ln -s "$up/bin/busybox" "$s/$p"
    done < <("$s/bin/busybox" --list-full)
    [[ -L $s/sbin/init && -L $s/usr/bin/nc && -L $s/bin/sh ]] ||
        die "$busybox lacks applets the guest needs (init, nc, sh); is it Debian's busybox-static?"
    cp "$bash" "$s/bin/bash"
    cp -a "$KDIR/root/lib/modules" "$s/lib/"
    # The guest's own files replace applet links of the same name (nc).
    while IFS= read -r -d '' f; do
        rm -f "${s:?}/$f"
    done < <(cd "$ROOTFS" && find . ! -type d -print0)
    cp -a "$ROOTFS/." "$s/"
    chmod 0755 "$s/init" "$s"/lib/vmtest/* "$s/usr/bin/systemctl" "$s/usr/bin/nc"
    chmod 1777 "$s/tmp"
    chmod 0700 "$s/root"
    # Device nodes for the first moments; init mounts devtmpfs over /dev.
    mknod -m 600 "$s/dev/console" c 5 1 2>/dev/null || true
    mknod -m 666 "$s/dev/null" c 1 3 2>/dev/null || true
    (cd "$s" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
        cpio --null -o -H newc -R 0:0 --quiet) >"$INITRD.tmp" ||
        die "cpio failed writing $INITRD.tmp"
    mv "$INITRD.tmp" "$INITRD"
    msg "initrd: $INITRD ($(du -k "$INITRD" | cut -f1) KiB)"
}

# ---------------------------------------------------------------------------
# Start scripts: DIR/run-NAME-vm

write_run_script() { # NAME NODE
    local name=$1 node=$2 hosts=$HOSTS out
    out=$DIR/run-$name-vm
    cat >"$out.tmp" <<EOF
#!/usr/bin/env bash
# run-$name-vm: start machine "$name" (node $node of: $hosts), a vmtest-min
# busybox test guest. Written by tests/guest/build.sh, which rewrites it on
# every run: do not edit.
#
# Like the run-<name>-vm scripts of NixOS (qemu-vm.nix) it reads:
#   TMPDIR, USE_TMPDIR   the state dir; QEMU runs in it. If either is empty,
#                        a new one is made with mktemp -d.
#   SHARED_DIR           host dir shared over 9p (tag "shared", guest
#                        /tmp/shared); default \$TMPDIR/xchg
#   QEMU_OPTS            more QEMU options (split on blanks), before "\$@"
#   QEMU_KERNEL_PARAMS   appended to the kernel command line (vmtest.panic=1,
#                        vmtest.nobackdoor=1, vmtest.handshake=old, ...)
#   QEMU_NET_OPTS        appended to the user-mode netdev options
#                        (e.g. hostfwd=tcp::8080-:80)
#   QEMU_VDE_SOCKET_<n>  the vde_switch socket of vlan n: adds a virtio NIC
#                        with MAC 52:54:00:12:<n>:<node>, in the guest eth1...
#                        with 192.168.<n>.$node/24
# and, of its own:
#   VMTEST_ACCEL         QEMU accelerator, default tcg, because KVM did not
#                        work where this was written (accel=kvm aborted with
#                        "failed to set MSR"). With a working /dev/kvm use
#                        VMTEST_ACCEL=kvm (or kvm:tcg).
#   VMTEST_QEMU          QEMU binary (default qemu-system-x86_64)
#   VMTEST_MEMORY        guest memory in MiB (default 384)
#   VMTEST_KERNEL        vmlinux (default when built: PVH boot, no kernel
#                        decompression) or bzimage
# The kernel command line: console=ttyS0 panic=1, then two boot-time savers
# under TCG (acpi=noirq: PCI interrupt links without slow ACPI AML, ~1 s;
# cryptomgr.notests: no crypto self-tests, ~0.4 s), no_timer_check (on a loaded
# host the IO-APIC timer check can fail and panic the kernel), the machine's
# vmtest.* parameters and \$QEMU_KERNEL_PARAMS.
# No network ROMs (romfile=): the kernel is booted directly.
# Arguments go to QEMU as they are: the test driver adds its -monitor,
# -chardev/virtconsole (backdoor on hvc0), -serial stdio, -no-reboot,
# -nographic. Run by hand without arguments, it adds -nographic (serial
# console and QEMU monitor on this terminal; ctrl-a x quits).
set -e

if [ -z "\${TMPDIR:-}" ] || [ -z "\${USE_TMPDIR:-}" ]; then
    TMPDIR=\$(mktemp -d nix-vm.XXXXXXXXXX --tmpdir)
fi
export TMPDIR
SHARED_DIR=\${SHARED_DIR:-\$TMPDIR/xchg}
mkdir -p "\$TMPDIR/xchg" "\$SHARED_DIR"
cd "\$TMPDIR"

kernel='$KDIR/vmlinux'
case "\${VMTEST_KERNEL:-vmlinux}" in
    vmlinux) [ -f "\$kernel" ] || kernel='$KDIR/bzImage' ;;
    bzimage | bzImage) kernel='$KDIR/bzImage' ;;
    *) echo "run-$name-vm: VMTEST_KERNEL must be vmlinux or bzimage" >&2; exit 1 ;;
esac
for f in "\$kernel" '$INITRD'; do
    [ -f "\$f" ] || { echo "run-$name-vm: \$f is missing; run tests/guest/build.sh '$DIR'" >&2; exit 1; }
done

vlans=()
for var in \$(compgen -v QEMU_VDE_SOCKET_ || true); do
    n=\${var#QEMU_VDE_SOCKET_}
    case "\$n" in '' | *[!0-9]*) continue ;; esac
    [ -n "\${!var}" ] || continue
    vlans+=("\$n")
done
nics=()
i=0
for n in \$(printf '%s\n' "\${vlans[@]}" | sort -n); do
    i=\$((i + 1))
    var=QEMU_VDE_SOCKET_\$n
    nics+=(-device "virtio-net-pci,netdev=vlan\$i,mac=\$(printf '52:54:00:12:%02x:%02x' "\$n" $node)"
        -netdev "vde,id=vlan\$i,sock=\${!var}")
done

extra=()
if [ \$# -eq 0 ] && [ -z "\${QEMU_OPTS:-}" ]; then extra=(-nographic); fi

# shellcheck disable=SC2086
exec "\${VMTEST_QEMU:-qemu-system-x86_64}" \\
    -machine "pc,accel=\${VMTEST_ACCEL:-tcg}" \\
    -name '$name' \\
    -m "\${VMTEST_MEMORY:-384}" \\
    -smp 1 \\
    -global virtio-net-pci.romfile= \\
    -net nic,netdev=user.0,model=virtio \\
    -netdev "user,id=user.0\${QEMU_NET_OPTS:+,\$QEMU_NET_OPTS}" \\
    "\${nics[@]}" \\
    -virtfs "local,path=\$SHARED_DIR,security_model=none,mount_tag=shared" \\
    -kernel "\$kernel" \\
    -initrd '$INITRD' \\
    -append "console=ttyS0 panic=1 acpi=noirq cryptomgr.notests no_timer_check vmtest.name=$name vmtest.node=$node vmtest.hosts=$hosts \${QEMU_KERNEL_PARAMS:-}" \\
    "\${extra[@]}" \\
    \${QEMU_OPTS:-} "\$@"
EOF
    chmod 0755 "$out.tmp"
    mv "$out.tmp" "$out"
}

# ---------------------------------------------------------------------------

# Everything that is missing is named in one go.
wanted=(qemu-system-x86 vde2)
kernel_fresh || wanted+=(kmod xz-utils)
initrd_fresh && kernel_fresh || wanted+=(busybox-static bash-static cpio)
need_packages "${wanted[@]}"
if ! kernel_fresh; then build_kernel; fi
if ! initrd_fresh; then build_initrd; fi
node=0
for n in "${NAMES[@]}"; do
    node=$((node + 1))
    write_run_script "$n" "$node"
done
msg "ready: $(for n in "${NAMES[@]}"; do printf '%s ' "$DIR/run-$n-vm"; done)"
