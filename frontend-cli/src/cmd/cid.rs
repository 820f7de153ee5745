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
    pub(crate) fn run(self, json: bool) -> anyhow::Result<()> {
        let mut all = Vec::new();
        for f in &self.files {
            let bytes = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
            if json {
                all.push(crate::docs::FileCid {
                    file: f.clone(),
                    cid: Cid::of(&bytes),
                });
            } else {
                println!("{}  {}", Cid::of(&bytes), f.display());
            }
        }
        if json {
            println!("{}", serde_json::to_string(&all)?);
        }
        Ok(())
    }
}
