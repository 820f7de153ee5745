//! The trainer's one error type.

/// Everything that can stop a training run, each with the reason a user can act on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The training or validation data is not usable.
    #[error("data: {0}")]
    Data(String),
    /// The `--init` model is not one this trainer can start from.
    #[error("initial model: {0}")]
    Init(String),
    /// The architecture does not fit the data (or the data does not fit it).
    #[error("architecture: {0}")]
    Arch(String),
    /// A hyper-parameter is out of range.
    #[error("config: {0}")]
    Config(String),
    /// The requested device cannot be used.
    #[error("device: {0}")]
    Device(String),
    /// Training diverged or the backend failed.
    #[error("training: {0}")]
    Training(String),
    /// Reading or writing a file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        source: std::io::Error,
    },
}

/// Short for `Result<T, Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
