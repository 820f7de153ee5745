#!/bin/sh
# Creates a Debian sid chroot with the toolchain of install-toolchain.sh (Debian's
# rustc/cargo, the riscv64 cross gcc and Debian's riscv64 Rust std), for building
# crucible-dapp and crucible-core's tests for riscv64gc-unknown-linux-gnu. The host's rustup toolchain cannot use Debian's riscv64 std
# (a different rustc), and sid's binaries need a newer glibc than the host, hence the chroot.
# Needs root. Usage: setup-chroot.sh <dir>
set -eu
R="$1"
export DEBIAN_FRONTEND=noninteractive
command -v debootstrap >/dev/null || apt-get install -y -q debootstrap
command -v qemu-riscv64-static >/dev/null || apt-get install -y -q qemu-user-static
debootstrap --variant=minbase --include=ca-certificates sid "$R" http://deb.debian.org/debian
cp /etc/resolv.conf "$R/etc/resolv.conf"
# HTTPS may go through a proxy with a local CA: cargo in the chroot must trust it too.
cp -L /etc/ssl/certs/ca-certificates.crt "$R/etc/ssl/certs/ca-certificates.crt"
mountpoint -q "$R/proc" || mount -t proc proc "$R/proc"
cp "$(dirname "$0")/install-toolchain.sh" "$R/tmp/install-toolchain.sh"
chroot "$R" sh /tmp/install-toolchain.sh
rm -f "$R/tmp/install-toolchain.sh"
umount "$R/proc"
