//! `crucible-dapp-faulty`: the Crucible DApp with one lie. Every `SubmissionScored` notice
//! it emits carries a score 6,000 ppm off the true one, so its outputs root diverges from
//! the honest validators' at the first scored submission. It exists to show a faulty
//! validator outvoted by a Quorum and named by `crucible validate`.

use alloy_sol_types::{SolCall, SolInterface};
use crucible_core::Output;
use crucible_types::abi::{ICrucibleOutputs, ICrucibleOutputsCalls};

/// How far off the faulty scores are.
const SKEW_PPM: u64 = 6_000;

fn tamper(output: Output) -> Output {
    let Output::Notice(payload) = output else {
        return output;
    };
    match ICrucibleOutputsCalls::abi_decode(&payload) {
        Ok(ICrucibleOutputsCalls::SubmissionScored(mut s)) => {
            s.valuePpm = if s.valuePpm + SKEW_PPM <= 1_000_000 {
                s.valuePpm + SKEW_PPM
            } else {
                s.valuePpm - SKEW_PPM
            };
            Output::Notice(ICrucibleOutputs::SubmissionScoredCall::abi_encode(&s))
        }
        _ => Output::Notice(payload),
    }
}

fn main() -> std::process::ExitCode {
    let url =
        std::env::var("ROLLUP_HTTP_SERVER_URL").unwrap_or_else(|_| "http://127.0.0.1:5004".into());
    match crucible_dapp::Dapp::new(&url).and_then(|dapp| dapp.with_tamper(tamper).run()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("crucible-dapp-faulty: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
