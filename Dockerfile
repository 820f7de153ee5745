# syntax=docker.io/docker/dockerfile:1
#
# Crucible's Cartesi machine image, in the shape of the official Rust application template
# (cartesi/application-templates, rust/Dockerfile): a cross-build stage that compiles the
# static riscv64gc `crucible-dapp`, and a riscv64 Ubuntu runtime stage with Cartesi's
# machine guest tools, whose `rollup-init` starts the rollup HTTP server and then the DApp.
# `cartesi build` turns it into the machine snapshot (`.cartesi/image`) whose root hash is
# the application's templateHash; cartesi.toml holds the machine's configuration (RAM), and
# docs/DESIGN.md ("The Cartesi machine") derives it.
#
# One deliberate difference from the template: the cross-build stage uses Debian's rustc
# and Debian's riscv64 std (not rustup's), at the versions xtask/rv/install-toolchain.sh
# pins (rustc 1.97.1), with the command and flags of `cargo xtask riscv`, so the DApp in the
# image is the build whose bit-identity with the host the tests prove.

# These pin what the packages are, whenever the image is built.
ARG UBUNTU_TAG=noble-20251001
ARG APT_UPDATE_SNAPSHOT=20251022T030400Z
ARG MACHINE_GUEST_TOOLS_VERSION=0.17.2
ARG MACHINE_GUEST_TOOLS_SHA256SUM=c077573dbcf0cdc146adf14b480bfe454ca63aa4d3e8408c5487f550a5b77a41
# Debian sid in the state install-toolchain.sh's versions come from.
ARG DEBIAN_SNAPSHOT=20261030T120000Z

################################################################################
# cross-build stage: the static riscv64 DApp, built on the build machine's architecture
FROM --platform=$BUILDPLATFORM debian:sid-slim AS cross-build-stage

ARG DEBIAN_SNAPSHOT
RUN <<EOF
set -eu
rm -f /etc/apt/sources.list.d/debian.sources
snapshot="http://snapshot.debian.org/archive/debian/${DEBIAN_SNAPSHOT}"
echo "deb [check-valid-until=no] ${snapshot} sid main" > /etc/apt/sources.list
EOF

COPY xtask/rv/install-toolchain.sh /tmp/install-toolchain.sh
# Packages are pinned by the snapshot's date (and the toolchain by exact versions).
# hadolint ignore=DL3008
RUN <<EOF
set -eu
sh /tmp/install-toolchain.sh
apt-get install -y -q --no-install-recommends ca-certificates
rm -rf /var/lib/apt/lists/* /tmp/install-toolchain.sh
EOF

WORKDIR /opt/cartesi/dapp
COPY . .
# The command and flags of `cargo xtask riscv` (xtask/src/riscv.rs: RISCV_BUILD, RUSTFLAGS),
# which builds crucible-core's riscv64 tests in the same invocation: the same packages give
# the same feature resolution, hence the same DApp binary (where the sources are does not
# change it).
ENV CARGO_TARGET_DIR=/opt/cartesi/dapp/target/riscv64
ENV RUSTFLAGS="-C target-feature=+crt-static"
RUN cargo build --release --locked --target riscv64gc-unknown-linux-gnu -p crucible-core -p crucible-dapp --bins --tests --example cost_probe

################################################################################
# runtime stage: the machine's root file system (riscv64 whatever the build machine is,
# as in the template)
# hadolint ignore=DL3029
FROM --platform=linux/riscv64 ubuntu:${UBUNTU_TAG}

ARG APT_UPDATE_SNAPSHOT
ARG DEBIAN_FRONTEND=noninteractive
# Packages are pinned by the apt snapshot's date; the lists go once the last install is done.
# hadolint ignore=DL3008,DL3009
RUN <<EOF
set -eu
apt-get update
apt-get install -y --no-install-recommends ca-certificates
apt-get update --snapshot=${APT_UPDATE_SNAPSHOT}
EOF

ARG MACHINE_GUEST_TOOLS_VERSION
ARG MACHINE_GUEST_TOOLS_SHA256SUM
ADD --checksum=sha256:${MACHINE_GUEST_TOOLS_SHA256SUM} \
  https://github.com/cartesi/machine-guest-tools/releases/download/v${MACHINE_GUEST_TOOLS_VERSION}/machine-guest-tools_riscv64.deb \
  /tmp/machine-guest-tools_riscv64.deb

# hadolint ignore=DL3008
RUN <<EOF
set -eu
apt-get install -y --no-install-recommends busybox-static /tmp/machine-guest-tools_riscv64.deb
rm /tmp/machine-guest-tools_riscv64.deb
apt-get remove -y --purge ca-certificates
apt-get autoremove -y --purge
rm -rf /var/lib/apt/lists/* /var/log/* /var/cache/*
EOF

ENV PATH="/opt/cartesi/bin:/opt/cartesi/dapp:${PATH}"
WORKDIR /opt/cartesi/dapp
COPY --from=cross-build-stage /opt/cartesi/dapp/target/riscv64/riscv64gc-unknown-linux-gnu/release/crucible-dapp .

ENV ROLLUP_HTTP_SERVER_URL="http://127.0.0.1:5004"
ENTRYPOINT ["rollup-init"]
CMD ["crucible-dapp"]
