//! The Crucible DApp. It runs inside the Cartesi machine (or beside a host-mode node) and
//! does nothing but move requests between the rollup HTTP API (`ROLLUP_HTTP_SERVER_URL`)
//! and `crucible-core`: all logic lives in the core.

fn main() -> std::process::ExitCode {
    let url =
        std::env::var("ROLLUP_HTTP_SERVER_URL").unwrap_or_else(|_| "http://127.0.0.1:5004".into());
    match crucible_dapp::Dapp::new(&url).and_then(|mut dapp| dapp.run()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("crucible-dapp: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
