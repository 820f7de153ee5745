//! Integration tests of crucible-core with the real models and data of the repository.

mod bounded;
mod common;
mod determinism;
mod fairness;
mod fuzz;
mod golden;
mod hostile;
mod lifecycle;
mod manifests;
mod rejections;
