//! Salts the CLI must remember between commands: the hidden test set's (for the reveal)
//! and each submission's (in case a submit is interrupted between commit and reveal).
//! Kept in `<home>/secrets.json`, readable by the owner only.

use alloy::primitives::{Address, B256};
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::{
    io::Read,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct TestSetSecret {
    pub(crate) app: Address,
    /// `keccak256(abi.encode(bytes testCid, bytes32 salt))`, as in the competition.
    pub(crate) commitment: B256,
    pub(crate) cid: String,
    pub(crate) salt: B256,
    /// Where the test set was when the competition was created.
    pub(crate) file: PathBuf,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct SubmissionSecret {
    pub(crate) app: Address,
    pub(crate) competition: u64,
    pub(crate) sender: Address,
    pub(crate) model_cid: String,
    pub(crate) salt: B256,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Secrets {
    #[serde(default)]
    pub(crate) test_sets: Vec<TestSetSecret>,
    #[serde(default)]
    pub(crate) submissions: Vec<SubmissionSecret>,
}

fn file(home: &Path) -> PathBuf {
    home.join("secrets.json")
}

impl Secrets {
    pub(crate) fn load(home: &Path) -> anyhow::Result<Self> {
        match std::fs::read(file(home)) {
            Ok(b) => serde_json::from_slice(&b)
                .with_context(|| format!("{} is damaged", file(home).display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(e.into()),
        }
    }

    pub(crate) fn save(&self, home: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(home)?;
        let path = file(home);
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(self)?)?;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
        std::fs::rename(&tmp, &path)?;
        Ok(())
    }
}

/// 32 bytes from the operating system's random source (salts are not protocol state).
pub(crate) fn random_salt() -> anyhow::Result<B256> {
    let mut b = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .context("reading /dev/urandom")?;
    Ok(B256::from(b))
}
