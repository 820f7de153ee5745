use anyhow::Context;
use crucible_types::Cid;
use std::path::PathBuf;

/// Print the CID (CIDv1, raw, sha2-256) of files, as the DApp computes it.
///
/// Examples:
///   crucible cid models/mlp/model.onnx
#[derive(Debug, clap::Args)]
pub(crate) struct CidArgs {
    /// Files to identify.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

impl CidArgs {
    pub(crate) fn run(self) -> anyhow::Result<()> {
        for f in &self.files {
            let bytes = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
            println!("{}  {}", Cid::of(&bytes), f.display());
        }
        Ok(())
    }
}
