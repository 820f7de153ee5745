//! Project automation: `cargo xtask <setup|test|bench-eval|check-deps>`.

use clap::Parser;

mod calibrate;
mod fuzz;
mod riscv;
mod tasks;

fn main() -> std::process::ExitCode {
    match tasks::Xtask::parse().run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
