#!/bin/sh
# Creates a Debian sid chroot with Debian's rustc/cargo, the riscv64 cross gcc and Debian's
# riscv64 Rust std, for building crucible-dapp and crucible-core's tests for
# riscv64gc-unknown-linux-gnu. The host's rustup toolchain cannot use Debian's riscv64 std
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
chroot "$R" sh -ec '
  dpkg --add-architecture riscv64
  # sid'"'"'s Release file may be past its Valid-Until date.
  apt-get -o Acquire::Check-Valid-Until=false update -q
  apt-get install -y -q --no-install-recommends rustc cargo gcc libc6-dev gcc-riscv64-linux-gnu libc6-dev-riscv64-cross
  # libstd-rust-dev:riscv64 cannot be co-installed (libllvm versions differ between the
  # architectures); it only holds rlibs, so unpack it.
  V=$(dpkg-query -W -f="\${Version}" rustc)
  cd /tmp && apt-get download "libstd-rust-dev:riscv64=$V" && dpkg-deb -x libstd-rust-dev_*_riscv64.deb / && rm -f ./*.deb
  mkdir -p /root/.cargo
  printf "[target.riscv64gc-unknown-linux-gnu]\nlinker = \"riscv64-linux-gnu-gcc\"\n" > /root/.cargo/config.toml'
umount "$R/proc"
