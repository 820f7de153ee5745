#!/bin/sh
# Installs, inside a Debian sid system (the chroot of setup-chroot.sh, or the Dockerfile's
# cross-build stage), the toolchain that builds crucible-dapp for riscv64gc-unknown-linux-gnu:
# Debian's rustc and cargo, Debian's riscv64 Rust std and the riscv64 cross gcc, at the exact
# versions below. Every riscv64 build of the DApp uses these: a different compiler could give
# different output bits. apt fails, rather than installing others, if they are gone.
set -eu
RUST_VERSION=1.97.1+dfsg1-1
export DEBIAN_FRONTEND=noninteractive
dpkg --add-architecture riscv64
# sid's Release file may be past its Valid-Until date.
apt-get -o Acquire::Check-Valid-Until=false update -q
apt-get install -y -q --no-install-recommends \
  "rustc=$RUST_VERSION" "cargo=$RUST_VERSION" gcc libc6-dev \
  gcc-riscv64-linux-gnu libc6-dev-riscv64-cross
# libstd-rust-dev:riscv64 cannot be co-installed (libllvm versions differ between the
# architectures); it only holds rlibs, so unpack it.
cd /tmp
apt-get download "libstd-rust-dev:riscv64=$RUST_VERSION"
dpkg-deb -x libstd-rust-dev_*_riscv64.deb /
rm -f ./libstd-rust-dev_*_riscv64.deb
mkdir -p /root/.cargo
printf '[target.riscv64gc-unknown-linux-gnu]\nlinker = "riscv64-linux-gnu-gcc"\n' > /root/.cargo/config.toml
rustc --version
