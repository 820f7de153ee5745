//! `crucible-node`: the host-mode Cartesi node for Crucible.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
