#!/usr/bin/env bash
# tests/guest/debian/build.sh: build the vmtest-min Debian test guest.
#
# Usage: tests/guest/debian/build.sh DIR [NAME...]   (default names: machine client server)
#
# Builds, cached in DIR, a Debian guest with real systemd as PID 1 that follows
# the NixOS test-instrumentation contract, and one NixOS-style QEMU start
# script per machine name:
#
#   DIR/kernel/vmlinux, bzImage  Debian's generic kernel (the package that
#                             linux-image-amd64 depends on; apt-get download +
#                             dpkg-deb -x, nothing is installed). The unpacked
#                             vmlinux is booted through its PVH entry: no xz
#                             decompression in the guest (~2 s under TCG).
#   DIR/kernel/root/lib/modules/<version>/  the few modules the guest uses
#   DIR/initrd                stage 1: uncompressed newc cpio of busybox-static,
#                             those modules and stage1/init, which loads them,
#                             mounts /dev/vda and switch_roots to systemd
#   DIR/debs/                 debootstrap's package cache
#   DIR/base/                 the debootstrap tree (minbase + the packages in
#                             PACKAGES below), documentation and apt lists
#                             removed
#   DIR/rootfs.img            the root disk: a raw ext4 image made with
#                             mkfs.ext4 -d (no loop mounts) from base/, the
#                             files under rootfs/ and the settings below
#   DIR/run-NAME-vm           start script for machine NAME (always rewritten);
#                             it boots from a qcow2 overlay of rootfs.img made
#                             in the machine's state dir, so the image stays
#                             clean and a machine keeps its disk across
#                             shutdown/start in one test
#
# Node numbers are 1.. in sorted order of the names, as NixOS numbers nodes.
# The names reach the guest on the kernel command line (systemd.hostname=,
# systemd.machine_id=, vmtest.node=, vmtest.hosts=), so other names need no
# new image.
#
# The guest (see rootfs/ and stage1/init):
#   - systemd as PID 1, journald forwarding to the serial console ttyS0
#     (console=ttyS0, printk visible); a getty on tty1 (an 80x25 console on
#     QEMU's VGA); poweroff powers off, ctrl-alt-delete reboots (QEMU's
#     -no-reboot turns that into an exit);
#   - backdoor.service: a root bash on /dev/hvc0 (stdin/stdout; stderr on
#     ttyS0), announced with "Spawning backdoor root shell..."
#     (vmtest.handshake=old: a bare newline instead), restarted when it exits;
#   - vmtest-network.service: eth0 = 10.0.2.15/24 (user-mode net), vlan NICs
#     (MAC 52:54:00:12:<vlan>:<node>, eth1...) = 192.168.<vlan>.<node>/24;
#     /etc/hosts names every machine as 192.168.1.<node>;
#   - tmp-shared.mount: the 9p tag "shared" on /tmp/shared when QEMU offers
#     it, after systemd-tmpfiles has emptied /tmp;
#   - vmtest-display.service: bochs-drm, so that the virtual consoles show on
#     QEMU's VGA (80x25) for screenshots;
#   - hello-web.service (busybox httpd on port 80), failing.service (fails at
#     boot and at every start), sleeper.service (not started at boot);
#   - user alice (uid 1000, lingering) with the user unit hello-user.service;
#     root and alice have empty passwords (for the getty);
#   - units, generators and udev rules that cost boot time and do nothing for
#     a test VM are masked, and udev's coldplug skips the ~140 devices nothing
#     here uses (systemd-udev-trigger.service.d/vmtest.conf);
#   - kernel parameters (through QEMU_KERNEL_PARAMS): vmtest.panic=1 (kernel
#     panic in stage 1), vmtest.nobackdoor=1 (boots, but no backdoor),
#     vmtest.handshake=old (2021-style handshake), vmtest.debug=1 (stage 1
#     timestamps on the console).
#
# The start scripts read TMPDIR, USE_TMPDIR, SHARED_DIR, QEMU_OPTS,
# QEMU_KERNEL_PARAMS, QEMU_NET_OPTS, QEMU_VDE_SOCKET_<n> and NIX_DISK_IMAGE
# like the ones qemu-vm.nix writes, plus VMTEST_ACCEL (default tcg),
# VMTEST_QEMU, VMTEST_MEMORY and VMTEST_KERNEL; the comment at the top of each
# says how.
#
# Caching: each part is redone only when missing or out of date: the kernel
# when its stamp differs (module list, VMTEST_KERNEL_PACKAGE), base/ when its
# stamp differs (suite, mirror, package list), the initrd when older than this
# script, stage1/init or the kernel, rootfs.img when older than this script, a
# file under rootfs/, the kernel or base/. VMTEST_REBUILD=1 redoes them all.
# VMTEST_KERNEL_PACKAGE=linux-image-... picks another Debian kernel package,
# VMTEST_DEBIAN_SUITE another suite (default: the host's Debian release, else
# stable), VMTEST_DEBIAN_MIRROR another mirror (default deb.debian.org).
#
# Needs Debian (apt-get, dpkg-deb), root (debootstrap, chroot, file owners)
# for everything but writing the start scripts, and the packages
# qemu-system-x86 qemu-utils vde2 debootstrap busybox-static cpio kmod
# xz-utils e2fsprogs; as root it installs missing ones itself, otherwise it
# says what to install.

set -euo pipefail
# depmod, modprobe, mkfs.ext4 and chroot live in sbin, which a user's PATH may lack.
export PATH=$PATH:/usr/sbin:/sbin

SELF=$(readlink -f "${BASH_SOURCE[0]}")
HERE=$(dirname "$SELF")
ROOTFS=$HERE/rootfs
STAGE1=$HERE/stage1/init
PROG=debian/${0##*/}

# Guest modules, in load order; builtin ones are skipped, dependencies added.
# Stage 1 loads them all; the same files go into the root disk for udev.
MODULES=(virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci
    virtio_blk crc32c_generic ext4
    virtio_console failover net_failover virtio_net virtio-rng
    netfs fscache 9pnet 9pnet_virtio 9p)
# Modules only on the root disk, for udev or units to load.
# bochs (DRM driver of QEMU's standard VGA): a PVH-booted kernel gets no VGA
# text mode from the firmware, so without a framebuffer the getty on tty1
# would never reach the screen (screendump, OCR). vmtest-display.service
# loads it; the start scripts give the VGA a 640x400 preferred mode: an 80x25
# console like VGA text mode.
UDEV_MODULES=(bochs)
# Packages on top of debootstrap's minbase.
PACKAGES=(systemd systemd-sysv udev dbus libpam-systemd kmod iproute2
    iputils-ping netcat-openbsd procps busybox)
# Units masked in the guest: each costs boot time (every unit is a process
# start on one emulated CPU) and none matters to a test VM, or it fights the
# driver (serial gettys on the consoles, systemd-firstboot's prompt).
MASK=(serial-getty@ttyS0.service serial-getty@hvc0.service
    systemd-firstboot.service systemd-machine-id-commit.service
    systemd-pstore.service systemd-sysusers.service systemd-journal-flush.service
    systemd-random-seed.service systemd-update-utmp.service
    systemd-update-utmp-runlevel.service systemd-remount-fs.service
    systemd-hwdb-update.service systemd-journal-catalog-update.service
    systemd-update-done.service ldconfig.service systemd-binfmt.service
    proc-sys-fs-binfmt_misc.automount proc-sys-fs-binfmt_misc.mount
    sys-kernel-debug.mount sys-kernel-tracing.mount sys-kernel-config.mount
    sys-fs-fuse-connections.mount dev-hugepages.mount dev-mqueue.mount
    systemd-modules-load.service kmod-static-nodes.service systemd-sysctl.service
    systemd-vconsole-setup.service modprobe@.service e2scrub_reap.service
    systemd-tmpfiles-setup-dev.service
    e2scrub_all.timer apt-daily.timer apt-daily-upgrade.timer
    dpkg-db-backup.timer fstrim.timer systemd-tmpfiles-clean.timer)
# udev rules masked in the guest: udevd parses every rule file at start and
# runs them for each of the ~260 coldplugged devices. Kept: device modes and
# groups (50-udev-default), device units (99-systemd), seats and uaccess for
# logind, module loading, network link setup, firmware, power switch.
MASK_UDEV_RULES=(55-dm.rules 60-autosuspend.rules 60-cdrom_id.rules 60-drm.rules
    60-evdev.rules 60-fido-id.rules 60-infiniband.rules 60-input-id.rules
    60-persistent-alsa.rules 60-persistent-input.rules 60-persistent-storage-dm.rules
    60-persistent-storage-tape.rules 60-persistent-storage.rules
    60-persistent-v4l.rules 60-sensor.rules 60-serial.rules 64-btrfs.rules
    70-camera.rules 70-joystick.rules 70-memory.rules 70-mouse.rules
    70-touchpad.rules 73-special-net-names.rules 75-net-description.rules
    75-probe_mtd.rules 78-sound-card.rules 80-debian-compat.rules
    81-net-dhcp.rules 85-hwclock.rules 95-dm-notify.rules 96-e2scrub.rules)
# Bump to make existing DIRs redo that part.
KERNEL_STAGE=4
BASE_STAGE=1
DEFAULT_NAMES=(machine client server)
ALL_PACKAGES="qemu-system-x86 qemu-utils vde2 debootstrap busybox-static cpio kmod xz-utils e2fsprogs"

msg() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() {
    printf '%s: error: %s\n' "$PROG" "$*" >&2
    exit 1
}

usage() {
    cat >&2 <<EOF
usage: $PROG DIR [NAME...]
Builds a Debian test guest with systemd (kernel, initrd, root disk image) in
DIR, cached, and writes DIR/run-NAME-vm for each NAME (default: ${DEFAULT_NAMES[*]}).
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
[[ ${#HOSTS} -le 1100 ]] || die "the machine names are too long together (${#HOSTS} bytes, at most 1100)"

# The Debian release of the guest: the host's, when debootstrap knows it.
default_suite() {
    local codename=
    if [[ -r /etc/os-release ]]; then
        # shellcheck disable=SC1091 # the host's file
        codename=$(. /etc/os-release && [[ ${ID:-} == debian ]] && printf '%s' "${VERSION_CODENAME:-}") || true
    fi
    if [[ -n $codename && -e /usr/share/debootstrap/scripts/$codename ]]; then
        printf '%s\n' "$codename"
    else
        printf 'stable\n'
    fi
}
MIRROR=${VMTEST_DEBIAN_MIRROR:-http://deb.debian.org/debian}

# ---------------------------------------------------------------------------
# Packages

# pkg_missing PKG: true when PKG's command (or package) is not there.
pkg_missing() {
    case "$1" in
        qemu-system-x86) ! command -v qemu-system-x86_64 >/dev/null ;;
        qemu-utils) ! command -v qemu-img >/dev/null ;;
        vde2) ! command -v vde_switch >/dev/null ;;
        debootstrap) ! command -v debootstrap >/dev/null ;;
        busybox-static)
            [[ $(dpkg-query -W -f='${Status}' busybox-static 2>/dev/null) != *" installed" ]] ;;
        cpio) ! command -v cpio >/dev/null ;;
        kmod) ! command -v depmod >/dev/null || ! command -v modprobe >/dev/null ;;
        xz-utils) ! command -v xz >/dev/null ;;
        e2fsprogs) ! command -v mkfs.ext4 >/dev/null ;;
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

need_root() { # WHAT
    [[ $(id -u) -eq 0 ]] ||
        die "$1 needs root (debootstrap, chroot and root-owned files); run this script as root once: it caches the result in $DIR and then runs as any user"
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
KSTAMP="stage=$KERNEL_STAGE${VMTEST_KERNEL_PACKAGE:+ package=$VMTEST_KERNEL_PACKAGE} modules=${MODULES[*]} udev=${UDEV_MODULES[*]}"

kernel_fresh() {
    [[ ${VMTEST_REBUILD:-} != 1 && -f $KDIR/stamp && -f $KDIR/bzImage && -f $KDIR/version ]] &&
        [[ $(<"$KDIR/stamp") == "$KSTAMP" ]]
}

linux_image_dependency() {
    apt-cache depends linux-image-amd64 2>/dev/null |
        awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }' || true
}

resolve_kernel_package() {
    local pkg
    if [[ -n ${VMTEST_KERNEL_PACKAGE:-} ]]; then
        printf '%s\n' "$VMTEST_KERNEL_PACKAGE"
        return
    fi
    pkg=$(linux_image_dependency)
    if [[ -z $pkg && $(id -u) -eq 0 ]]; then
        msg "apt-cache knows no linux-image-amd64; running apt-get update"
        apt-get update -q >&2 || die "apt-get update failed (no network or no Debian mirror?)"
        pkg=$(linux_image_dependency)
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
    command -v apt-get >/dev/null || die "apt-get not found: this script downloads Debian's kernel package and needs a Debian system"
    command -v dpkg-deb >/dev/null || die "dpkg-deb not found: this script needs a Debian system (package dpkg)"
    scratch
    local pkg deb x kver new mods m out line rel order=() extra=() seen=" " list
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
    for list in stage1 udev; do
        if [[ $list == stage1 ]]; then set -- "${MODULES[@]}"; else set -- "${UDEV_MODULES[@]}"; fi
        for m in "$@"; do
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
                        # CPU-specific variants (crc32c-intel, ...): the generic
                        # ones do, and these fail where the CPU lacks the feature.
                        [[ $rel == kernel/arch/* ]] && continue
                        if [[ $seen != *" $rel "* ]]; then
                            seen+="$rel "
                            if [[ $list == stage1 ]]; then order+=("$rel"); else extra+=("$rel"); fi
                            mkdir -p "$mods/$(dirname "$rel")"
                            cp "$x/lib/modules/$kver/$rel" "$mods/$rel"
                        fi
                        ;;
                esac
            done <<<"$out"
        done
    done
    printf '%s\n' "${order[@]}" >"$mods/vmtest-load-order"
    printf '%s\n' "${extra[@]}" >"$mods/vmtest-udev-only"
    cat "$mods/vmtest-load-order" "$mods/vmtest-udev-only" >"$mods/modules.order"
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
    msg "kernel: $kver, modules: ${#order[@]} for stage 1, ${#extra[@]} for udev (others built in)"
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
# Stage 1: DIR/initrd

INITRD=$DIR/initrd

initrd_fresh() {
    [[ ${VMTEST_REBUILD:-} != 1 && -f $INITRD && $INITRD -nt $SELF && $INITRD -nt $STAGE1 &&
        $INITRD -nt $KDIR/stamp ]]
}

build_initrd() {
    [[ -f $STAGE1 ]] || die "missing $STAGE1 (stage 1 of the guest, next to this script)"
    scratch
    local s=$SCRATCH/initrd busybox a
    busybox=$(command -v busybox || true)
    [[ -x /bin/busybox ]] && busybox=/bin/busybox
    [[ -n $busybox ]] || die "busybox not found (package busybox-static)"
    rm -rf "$s"
    mkdir -p "$s"/{bin,sbin,dev,proc,sys,newroot,lib}
    cp "$busybox" "$s/bin/busybox"
    for a in sh mount umount modprobe insmod sleep mkdir switch_root cat echo; do
        ln -s busybox "$s/bin/$a"
    done
    "$s/bin/busybox" --list | grep -qx switch_root ||
        die "$busybox has no switch_root applet; is it Debian's busybox-static?"
    cp -a "$KDIR/root/lib/modules" "$s/lib/"
    while read -r m; do
        rm -f "$s/lib/modules/$(<"$KDIR/version")/$m"
    done <"$KDIR/root/lib/modules/$(<"$KDIR/version")/vmtest-udev-only"
    cp "$STAGE1" "$s/init"
    chmod 0755 "$s/init"
    mknod -m 600 "$s/dev/console" c 5 1 2>/dev/null || true
    mknod -m 666 "$s/dev/null" c 1 3 2>/dev/null || true
    (cd "$s" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
        cpio --null -o -H newc -R 0:0 --quiet) >"$INITRD.tmp" ||
        die "cpio failed writing $INITRD.tmp"
    mv "$INITRD.tmp" "$INITRD"
    msg "initrd: $INITRD ($(du -k "$INITRD" | cut -f1) KiB)"
}

# ---------------------------------------------------------------------------
# Base: DIR/base, the debootstrap tree

BASE=$DIR/base
SUITE=${VMTEST_DEBIAN_SUITE:-$(default_suite)}
BSTAMP="stage=$BASE_STAGE suite=$SUITE mirror=$MIRROR packages=${PACKAGES[*]}"

base_fresh() {
    [[ ${VMTEST_REBUILD:-} != 1 && -f $BASE/.vmtest-stamp ]] &&
        [[ $(<"$BASE/.vmtest-stamp") == "$BSTAMP" ]]
}

build_base() {
    need_root "debootstrap"
    scratch
    local new=$SCRATCH/base log=$SCRATCH/debootstrap.log include
    include=$(
        IFS=,
        printf '%s' "${PACKAGES[*]}"
    )
    mkdir -p "$DIR/debs"
    msg "base: debootstrap --variant=minbase $SUITE from $MIRROR (log: $log while it runs)"
    if ! debootstrap --variant=minbase --include="$include" --cache-dir="$DIR/debs" \
        "$SUITE" "$new" "$MIRROR" >"$log" 2>&1; then
        tail -n 25 "$log" >&2
        die "debootstrap $SUITE failed (last lines above; no network, no mirror $MIRROR, or an unknown suite?)"
    fi
    # Nothing of this is needed to run tests; apt can get the lists back.
    rm -rf "$new"/var/cache/apt/*.bin "$new"/var/cache/apt/archives/*.deb \
        "$new"/var/lib/apt/lists/* "$new"/usr/share/doc/* "$new"/usr/share/man/* \
        "$new"/usr/share/info/* "$new"/usr/share/locale/* "$new"/usr/share/lintian \
        "$new"/var/log/*.log "$new"/var/log/apt/* "$new"/var/cache/debconf/*-old
    # The udev hwdb: 10+ MB that udev would read at every device event.
    rm -rf "$new"/usr/lib/udev/hwdb.bin "$new"/etc/udev/hwdb.bin "$new"/usr/lib/udev/hwdb.d
    printf '%s\n' "$BSTAMP" >"$new/.vmtest-stamp"
    rm -rf "$BASE.old"
    if [[ -e $BASE ]]; then mv "$BASE" "$BASE.old"; fi
    mv "$new" "$BASE"
    rm -rf "$BASE.old"
    msg "base: $SUITE, $(du -sm "$BASE" | cut -f1) MB"
}

# ---------------------------------------------------------------------------
# Root disk: DIR/rootfs.img

IMAGE=$DIR/rootfs.img

image_fresh() {
    [[ ${VMTEST_REBUILD:-} != 1 && -f $IMAGE && $IMAGE -nt $SELF && $IMAGE -nt $KDIR/stamp &&
        $IMAGE -nt $BASE/.vmtest-stamp ]] &&
        [[ -z $(find "$ROOTFS" -newer "$IMAGE" -print -quit) ]]
}

# enable_units UNITDIR: the wants/ links `systemctl enable` makes for the
# WantedBy= lines of the units directly in UNITDIR.
enable_units() {
    local dir=$1 unit line target
    for unit in "$dir"/*.service "$dir"/*.mount "$dir"/*.timer "$dir"/*.socket; do
        [[ -f $unit ]] || continue
        while IFS= read -r line || [[ -n $line ]]; do
            [[ $line == WantedBy=* ]] || continue
            for target in ${line#WantedBy=}; do
                mkdir -p "$dir/$target.wants"
                ln -sfn "../${unit##*/}" "$dir/$target.wants/${unit##*/}"
            done
        done <"$unit"
    done
}

build_image() {
    need_root "building the root disk image"
    [[ -d $ROOTFS ]] || die "missing $ROOTFS (the guest's own files, next to this script)"
    scratch
    local r=$SCRATCH/root g unit kver used size
    msg "image: customizing a copy of base/"
    cp -a "$BASE" "$r" || die "cannot copy $BASE (disk full?)"
    rm -f "$r/.vmtest-stamp"
    kver=$(<"$KDIR/version")
    mkdir -p "$r/usr/lib/modules"
    cp -a "$KDIR/root/lib/modules/$kver" "$r/usr/lib/modules/"

    # Users: root and alice with empty passwords (getty logins in tests);
    # alice lingers, so her user manager and units run from boot on.
    chroot "$r" /usr/sbin/useradd -m -u 1000 -U -s /bin/bash alice ||
        die "useradd alice failed in the guest tree"
    chroot "$r" /usr/bin/passwd -q -d root >/dev/null || die "passwd -d root failed in the guest tree"
    chroot "$r" /usr/bin/passwd -q -d alice >/dev/null || die "passwd -d alice failed in the guest tree"
    mkdir -p "$r/var/lib/systemd/linger"
    : >"$r/var/lib/systemd/linger/alice"

    # The guest's own files (owned by root; alice's home by alice).
    (cd "$ROOTFS" && tar --owner=0 --group=0 --mode=go-w -cf - .) |
        tar -xf - -C "$r" --no-overwrite-dir --keep-directory-symlink ||
        die "copying $ROOTFS into the guest tree failed"
    chown -R 1000:1000 "$r/home/alice"
    enable_units "$r/etc/systemd/system"
    enable_units "$r/home/alice/.config/systemd/user"
    chown -R -h 1000:1000 "$r/home/alice"

    # No graphical.target: nothing here draws.
    ln -sfn /lib/systemd/system/multi-user.target "$r/etc/systemd/system/default.target"
    # Masks, generators (each a process at every start of a manager).
    for unit in "${MASK[@]}"; do
        rm -f "$r/etc/systemd/system/$unit"
        ln -s /dev/null "$r/etc/systemd/system/$unit"
        find "$r/etc/systemd/system" -path '*.wants/*' -name "$unit" -delete
    done
    mkdir -p "$r/etc/udev/rules.d"
    for unit in "${MASK_UDEV_RULES[@]}"; do
        ln -sfn /dev/null "$r/etc/udev/rules.d/$unit"
    done
    for g in system user; do
        mkdir -p "$r/etc/systemd/$g-generators"
        for unit in "$r/usr/lib/systemd/$g-generators"/*; do
            [[ -e $unit ]] || continue
            ln -sfn /dev/null "$r/etc/systemd/$g-generators/${unit##*/}"
        done
    done

    # Per machine at boot instead: host name (systemd.hostname=), machine id
    # (systemd.machine_id=), /etc/hosts (vmtest-network.service). A valid
    # placeholder id keeps systemd from treating each boot as the first.
    rm -f "$r/etc/hostname"
    printf '%s\n' 00000000000000000000000076d74657 >"$r/etc/machine-id"
    ln -sfn /etc/machine-id "$r/var/lib/dbus/machine-id"
    printf '# vmtest-min guest: no DNS\n' >"$r/etc/resolv.conf"
    printf '# vmtest-min guest: / is mounted by stage 1, /tmp/shared by tmp-shared.mount\n' >"$r/etc/fstab"
    rm -rf "$r/var/log/journal"

    used=$(du -sm "$r" | cut -f1)
    size=$((used * 5 / 4 + 512))
    msg "image: mkfs.ext4 -d ($used MB of files, a ${size} MB file system)"
    rm -f "$IMAGE.tmp"
    truncate -s "${size}M" "$IMAGE.tmp"
    mkfs.ext4 -q -F -L vmtest-root -m 0 -E lazy_itable_init=1,lazy_journal_init=1 \
        -d "$r" "$IMAGE.tmp" || die "mkfs.ext4 -d failed (e2fsprogs older than 1.43, or disk full?)"
    mv "$IMAGE.tmp" "$IMAGE"
    rm -rf "$r"
    msg "image: $IMAGE ($(du -m "$IMAGE" | cut -f1) MB used on disk, ${size} MB apparent)"
}

# ---------------------------------------------------------------------------
# Start scripts: DIR/run-NAME-vm

write_run_script() { # NAME NODE
    local name=$1 node=$2 hosts=$HOSTS out mid
    out=$DIR/run-$name-vm
    mid=$(printf 'vmtest-debian-%s' "$name" | md5sum | cut -c1-32)
    cat >"$out.tmp" <<EOF
#!/usr/bin/env bash
# run-$name-vm: start machine "$name" (node $node of: $hosts), a vmtest-min
# Debian test guest with systemd. Written by tests/guest/debian/build.sh,
# which rewrites it on every run: do not edit.
#
# Like the run-<name>-vm scripts of NixOS (qemu-vm.nix) it reads:
#   TMPDIR, USE_TMPDIR   the state dir; QEMU runs in it. If either is empty,
#                        a new one is made with mktemp -d.
#   NIX_DISK_IMAGE       the machine's disk, default ./$name.qcow2 in the
#                        state dir; made when missing as a qcow2 overlay of
#                        the clean root disk $IMAGE
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
#   VMTEST_MEMORY        guest memory in MiB (default 512)
#   VMTEST_KERNEL        vmlinux (default when built: PVH boot, no kernel
#                        decompression) or bzimage
# The kernel command line: console=ttyS0 panic=1; no_timer_check, because on a
# loaded host the emulated timer can miss the kernel's early IO-APIC check,
# which then panics ("IO-APIC + timer doesn't work!"); two boot-time savers
# under TCG (acpi=noirq: PCI interrupt links without slow ACPI AML;
# cryptomgr.notests: no crypto self-tests); net.ifnames=0 (eth0, eth1, ... as
# in NixOS tests);
# the machine's host name, machine id and vmtest.* parameters, then
# \$QEMU_KERNEL_PARAMS.
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
for f in "\$kernel" '$INITRD' '$IMAGE'; do
    [ -f "\$f" ] || { echo "run-$name-vm: \$f is missing; run tests/guest/debian/build.sh '$DIR'" >&2; exit 1; }
done

disk=\$(readlink -f "\${NIX_DISK_IMAGE:-./$name.qcow2}") ||
    { echo "run-$name-vm: bad NIX_DISK_IMAGE '\$NIX_DISK_IMAGE' (its directory does not exist)" >&2; exit 1; }
if [ ! -e "\$disk" ]; then
    qemu-img create -q -f qcow2 -F raw -b '$IMAGE' "\$disk" ||
        { echo "run-$name-vm: could not create the disk overlay \$disk (qemu-img from qemu-utils)" >&2; exit 1; }
elif [ '$IMAGE' -nt "\$disk" ]; then
    echo "run-$name-vm: \$disk is an overlay of a root disk that was rebuilt since ($IMAGE); delete it to start from the new one" >&2
    exit 1
fi

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
    -m "\${VMTEST_MEMORY:-512}" \\
    -smp 1 \\
    -global virtio-net-pci.romfile= \\
    -net nic,netdev=user.0,model=virtio \\
    -netdev "user,id=user.0\${QEMU_NET_OPTS:+,\$QEMU_NET_OPTS}" \\
    "\${nics[@]}" \\
    -drive "file=\$disk,format=qcow2,if=none,id=root,cache=writeback,werror=report" \\
    -device virtio-blk-pci,drive=root,serial=root \\
    -virtfs "local,path=\$SHARED_DIR,security_model=none,mount_tag=shared" \\
    -vga std -global VGA.xres=640 -global VGA.yres=400 \\
    -kernel "\$kernel" \\
    -initrd '$INITRD' \\
    -append "console=ttyS0 panic=1 no_timer_check acpi=noirq cryptomgr.notests net.ifnames=0 systemd.hostname=$name systemd.machine_id=$mid vmtest.node=$node vmtest.hosts=$hosts \${QEMU_KERNEL_PARAMS:-}" \\
    "\${extra[@]}" \\
    \${QEMU_OPTS:-} "\$@"
EOF
    chmod 0755 "$out.tmp"
    mv "$out.tmp" "$out"
}

# ---------------------------------------------------------------------------

# Everything that is missing is named in one go.
wanted=(qemu-system-x86 qemu-utils vde2)
kernel_fresh || wanted+=(kmod xz-utils)
initrd_fresh && kernel_fresh || wanted+=(busybox-static cpio)
base_fresh || wanted+=(debootstrap)
image_fresh && base_fresh && kernel_fresh || wanted+=(e2fsprogs)
need_packages "${wanted[@]}"
# Say so before downloading anything when a part needing root is out of date.
if ! base_fresh || ! image_fresh || ! kernel_fresh; then need_root "building the root disk"; fi
if ! kernel_fresh; then build_kernel; fi
if ! initrd_fresh; then build_initrd; fi
if ! base_fresh; then build_base; fi
if ! image_fresh; then build_image; fi
node=0
for n in "${NAMES[@]}"; do
    node=$((node + 1))
    write_run_script "$n" "$node"
done
msg "ready: $(for n in "${NAMES[@]}"; do printf '%s ' "$DIR/run-$n-vm"; done)"
