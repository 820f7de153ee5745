//! `cargo xtask riscv`: builds crucible-dapp and crucible-core's tests for
//! riscv64gc-unknown-linux-gnu in a Debian sid chroot (Debian's rustc and riscv64 std), then
//! proves host ↔ riscv64 bit-identity under qemu-user: crucible-core's integration tests
//! (golden output bits included) pass on riscv64, and the riscv64 DApp answers a whole
//! competition byte for byte like the native one.

use crate::tasks::{root, run};
use anyhow::{Context, ensure};
use serde_json::Value;
use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

macro_rules! target {
    () => {
        "riscv64gc-unknown-linux-gnu"
    };
}

/// The cargo command of every riscv64 build of the DApp, in the chroot here and in the
/// Dockerfile's cross-build stage alike. crucible-core's tests and the calibration probe are
/// built in the same invocation, so the DApp always gets the same feature resolution.
pub(crate) const RISCV_BUILD: &str = concat!(
    "cargo build --release --locked --target ",
    target!(),
    " -p crucible-core -p crucible-dapp --bins --tests --example cost_probe"
);

/// Where the Dockerfile's cross-build stage has the sources.
#[cfg(test)]
const IMAGE_SOURCE_DIR: &str = "/opt/cartesi/dapp";

/// The RUSTFLAGS of every riscv64 build of the DApp, here and in the Dockerfile: a static
/// binary, nothing else. A flag that names the checkout's path (`--remap-path-prefix`) would
/// differ between checkouts, and it changes the binary's bytes.
pub(crate) const RUSTFLAGS: &str = "-C target-feature=+crt-static";

pub(crate) const QEMU: &str = "qemu-riscv64-static";

fn chroot_dir() -> PathBuf {
    std::env::var_os("CRUCIBLE_RV_CHROOT")
        .map_or_else(|| "/opt/crucible-rv64".into(), PathBuf::from)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// Whether the riscv64 check can run here: a chroot exists, or we may create one.
pub(crate) fn available() -> Result<(), String> {
    if chroot_dir().join("usr/bin/cargo").exists() || is_root() {
        Ok(())
    } else {
        Err(format!(
            "no riscv64 chroot at {} and not root to create one (set CRUCIBLE_RV_CHROOT, or run as root)",
            chroot_dir().display()
        ))
    }
}

/// Bind mounts that are undone when dropped, whatever happens in between.
struct Mounts(Vec<PathBuf>);

impl Mounts {
    fn bind(&mut self, from: &Path, to: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(to)?;
        if !is_mounted(to) {
            run(Command::new("mount").arg("--bind").arg(from).arg(to))?;
            self.0.push(to.to_path_buf());
        }
        Ok(())
    }

    fn proc(&mut self, to: &Path) -> anyhow::Result<()> {
        if !is_mounted(to) {
            run(Command::new("mount").args(["-t", "proc", "proc"]).arg(to))?;
            self.0.push(to.to_path_buf());
        }
        Ok(())
    }
}

fn is_mounted(p: &Path) -> bool {
    Command::new("mountpoint")
        .arg("-q")
        .arg(p)
        .status()
        .is_ok_and(|s| s.success())
}

impl Drop for Mounts {
    fn drop(&mut self) {
        for p in self.0.iter().rev() {
            let _ = Command::new("umount").arg("-l").arg(p).status();
        }
    }
}

/// The executables cargo reported building: (package, target name, kind, path); a test
/// harness has kind `test`, whatever its target.
fn executables(messages: &str) -> Vec<(String, String, String, PathBuf)> {
    messages
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
        .filter_map(|m| {
            let exe = m["executable"].as_str()?;
            let package = m["package_id"].as_str()?.to_string();
            let name = m["target"]["name"].as_str()?.to_string();
            let kind = if m["profile"]["test"] == true {
                "test".to_string()
            } else {
                m["target"]["kind"][0].as_str()?.to_string()
            };
            Some((package, name, kind, PathBuf::from(exe)))
        })
        .collect()
}

/// What the riscv64 build produced.
pub(crate) struct Build {
    /// crucible-core's integration-test binary.
    pub(crate) core_tests: PathBuf,
    /// The DApp.
    pub(crate) dapp: PathBuf,
    /// crucible-core's calibration probe (`examples/cost_probe.rs`).
    pub(crate) probe: PathBuf,
}

/// Builds the riscv64 DApp and crucible-core's tests in the chroot (created on first use).
pub(crate) fn build() -> anyhow::Result<Build> {
    let r = chroot_dir();
    if !r.join("usr/bin/cargo").exists() {
        ensure!(is_root(), "{}", available().err().unwrap_or_default());
        run(Command::new("sh")
            .arg(root().join("xtask/rv/setup-chroot.sh"))
            .arg(&r))?;
    }
    if Command::new(QEMU).arg("--version").output().is_err() {
        ensure!(
            is_root(),
            "{QEMU} is missing: apt-get install qemu-user-static"
        );
        run(Command::new("apt-get").args(["install", "-y", "-q", "qemu-user-static"]))?;
    }
    // The repository appears at the same path inside the chroot, so the paths compiled into
    // the test binaries (CARGO_MANIFEST_DIR) are valid when they run on the host. Where the
    // sources are does not change the DApp: cargo names a workspace's sources by relative
    // paths, so the Dockerfile's build at IMAGE_SOURCE_DIR gives the same binary.
    let repo = root().canonicalize()?;
    let target_dir = repo.join("target/riscv64");
    let messages = {
        let mut mounts = Mounts(Vec::new());
        mounts.proc(&r.join("proc"))?;
        mounts.bind(&repo, &r.join(repo.strip_prefix("/")?))?;
        let script = format!(
            "cd '{}' && CARGO_TARGET_DIR='{}' RUSTFLAGS='{RUSTFLAGS}' {RISCV_BUILD} \
             --message-format=json-render-diagnostics",
            repo.display(),
            target_dir.display(),
        );
        eprintln!("+ chroot {} sh -c {script:?}", r.display());
        let out = Command::new("chroot")
            .arg(&r)
            .args(["sh", "-c", &script])
            .stderr(Stdio::inherit())
            .output()
            .context("running chroot")?;
        ensure!(
            out.status.success(),
            "the riscv64 build failed: {}",
            out.status
        );
        String::from_utf8(out.stdout)?
    };
    let exes = executables(&messages);
    let find = |package: &str, name: &str, kind: &str| {
        exes.iter()
            .find(|(p, n, k, _)| p.contains(package) && n == name && k == kind)
            .map(|(.., path)| path.clone())
            .with_context(|| format!("the riscv64 build made no {kind} {name} of {package}"))
    };
    Ok(Build {
        core_tests: find("crates/core", "it", "test")?,
        dapp: find("dapp", "crucible-dapp", "bin")?,
        probe: find("crates/core", "cost_probe", "example")?,
    })
}

/// Runs crucible-core's integration tests (golden output bits included) on riscv64 under
/// qemu.
pub(crate) fn core_tests(build: &Build) -> anyhow::Result<()> {
    eprintln!("crucible-core's integration tests, riscv64 under qemu:");
    run(Command::new(QEMU)
        .arg(&build.core_tests)
        .args(["--test-threads", "2"])
        .current_dir(root()))
}

/// The environment that points the node's riscv64 test at the build.
pub(crate) fn dapp_env(build: &Build) -> [(&'static str, std::ffi::OsString); 2] {
    [
        ("CRUCIBLE_RISCV_DAPP", build.dapp.clone().into_os_string()),
        ("CRUCIBLE_QEMU", QEMU.into()),
    ]
}

pub(crate) fn riscv() -> anyhow::Result<()> {
    let build = build()?;
    core_tests(&build)?;
    eprintln!("the riscv64 DApp against the native one, input by input:");
    run(crate::tasks::cargo()
        .args([
            "test",
            "--locked",
            "-p",
            "crucible-node",
            "--test",
            "it",
            "riscv",
        ])
        .envs(dapp_env(&build))
        .current_dir(root()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Dockerfile builds the DApp with this module's command, flags and directories.
    #[test]
    fn the_dockerfile_builds_the_dapp_as_xtask_does() {
        let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
        let lines: Vec<&str> = dockerfile.lines().map(str::trim).collect();
        for expected in [
            format!("RUN {RISCV_BUILD}"),
            format!("ENV RUSTFLAGS=\"{RUSTFLAGS}\""),
            format!("ENV CARGO_TARGET_DIR={IMAGE_SOURCE_DIR}/target/riscv64"),
            format!("WORKDIR {IMAGE_SOURCE_DIR}"),
            "COPY xtask/rv/install-toolchain.sh /tmp/install-toolchain.sh".to_string(),
            format!(
                "COPY --from=cross-build-stage {IMAGE_SOURCE_DIR}/target/riscv64/{}/release/crucible-dapp .",
                target!()
            ),
        ] {
            assert!(
                lines.contains(&expected.as_str()),
                "the Dockerfile lacks {expected:?}"
            );
        }
    }
}
