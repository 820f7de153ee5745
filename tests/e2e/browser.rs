//! The web leaderboard in headless Chromium (Debian's `chromium`, driven by
//! `playwright-core` from npm) against a devnet with a running competition: the page shows
//! the scores the notices carry, in rank order; a new submission appears without a reload;
//! after finalize the payouts show as executed. Screenshots go to `target/screenshots/`.

use alloy_sol_types::SolInterface;
use crucible_api::NodeClient;
use crucible_e2e::{bins, crucible_json, devnet_tools, repo, skipped};
use crucible_types::abi::ICrucibleOutputsCalls;
use serde_json::Value;
use std::{path::PathBuf, process::Command};

fn chromium() -> Option<PathBuf> {
    let p =
        PathBuf::from(std::env::var_os("CHROMIUM").unwrap_or_else(|| "/usr/bin/chromium".into()));
    p.exists().then_some(p)
}

/// The scores of competition 1 as its `SubmissionScored` notices carry them, by priority.
async fn notice_scores(node: &str, app: &str) -> Vec<(u64, u64)> {
    let client = NodeClient::new(node, app);
    let mut scores: Vec<(u64, u64)> = client
        .outputs(&Default::default())
        .await
        .expect("outputs")
        .iter()
        .filter_map(|o| o.notice())
        .filter_map(|n| match ICrucibleOutputsCalls::abi_decode(n) {
            Ok(ICrucibleOutputsCalls::SubmissionScored(s)) if s.competitionId == 1 => {
                Some((s.priority, s.valuePpm))
            }
            _ => None,
        })
        .collect();
    scores.sort_unstable();
    scores
}

/// `86.40 %` → 864000.
fn ppm(cell: &Value) -> u64 {
    let text = cell.as_str().expect("a cell");
    let percent: f64 = text
        .trim_end_matches('%')
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("not a percentage: {text}"));
    (percent * 1e4).round() as u64
}

/// Rows of a leaderboard table: (rank, score ppm, input index).
fn board(rows: &Value) -> Vec<(u64, u64, u64)> {
    rows.as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (
                r[0].as_str().unwrap().parse().unwrap(),
                ppm(&r[3]),
                r[4].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect()
}

#[test]
fn the_leaderboard_page_follows_a_competition_in_a_real_browser() {
    if !devnet_tools() {
        return;
    }
    let Some(chromium) = chromium() else {
        skipped("chromium not found (apt-get install chromium; .ci/run installs it)");
        return;
    };
    if !repo()
        .join("node_modules/playwright-core/package.json")
        .exists()
    {
        skipped("playwright-core not found under node_modules (run npm ci)");
        return;
    }
    let home = std::env::temp_dir().join(format!("crucible-browser-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&home);
    let devnet = crucible_json(
        &home,
        &["devnet", "up", "--port", "0", "--node-port", "0", "--json"],
    );
    let node = devnet["node"].as_str().expect("node URL").to_string();
    let rpc = devnet["rpc"].as_str().expect("anvil URL").to_string();
    let app = devnet["deployment"]["application"]
        .as_str()
        .expect("application")
        .to_string();
    crucible_json(
        &home,
        &[
            "competition",
            "create",
            "--data",
            "data/fashion-mnist/val-1k.safetensors",
            "--test",
            "data/fashion-mnist/test-1k.safetensors",
            "--reward",
            "100",
            "--payout-bps",
            "7000,3000",
            "--dev-account",
            "1",
            "--json",
        ],
    );
    crucible_json(
        &home,
        &[
            "submit",
            "--competition",
            "1",
            "--model",
            "models/mlp/model.onnx",
            "--dev-account",
            "2",
            "--json",
        ],
    );

    let shots = repo().join("target/screenshots");
    let out = Command::new("node")
        .arg(repo().join("tests/browser/leaderboard.mjs"))
        .args([&node, &rpc])
        .arg(&shots)
        .current_dir(repo())
        .env("CRUCIBLE_BIN", &bins().cli)
        .env("CRUCIBLE_HOME", &home)
        .env("CHROMIUM", &chromium)
        .env_remove("CRUCIBLE_RPC")
        .env_remove("CRUCIBLE_NODE")
        .env_remove("CRUCIBLE_APP")
        .output()
        .expect("node runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let notices = runtime.block_on(notice_scores(&node, &app));
    let _ = crucible_json(&home, &["devnet", "down", "--json"]);
    assert!(out.status.success(), "the browser script failed:\n{stderr}");
    let seen: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("the browser script printed no JSON ({e}):\n{stderr}"));

    // The page shows what the notices carry, in rank order, with the inputs that carried them.
    assert_eq!(notices.len(), 2, "two scored entries: {notices:?}");
    let one = board(&seen["one_entry"]);
    assert_eq!(one.len(), 1);
    assert_eq!((one[0].0, one[0].1), (1, notices[0].1));
    let two = board(&seen["two_entries"]);
    let mut by_score: Vec<u64> = notices.iter().map(|n| n.1).collect();
    by_score.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(
        two.iter().map(|r| r.1).collect::<Vec<_>>(),
        by_score,
        "rank order"
    );
    assert_eq!(two.iter().map(|r| r.0).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(
        seen["reloaded_after_submit"], false,
        "updated without a reload"
    );

    // After finalize: both payouts executed, the competition finalized, the page never reloaded.
    let payouts = seen["payouts"].as_array().expect("payouts");
    assert_eq!(payouts.len(), 2, "{payouts:?}");
    assert!(
        payouts
            .iter()
            .all(|p| p[3].as_str().unwrap().contains("executed")),
        "{payouts:?}"
    );
    assert_eq!(seen["status"], "finalized");
    assert_eq!(seen["reloaded"], false);
    assert!(
        !seen["epochs"].as_array().unwrap().is_empty(),
        "the epochs table lists the claims"
    );
    assert_eq!(
        seen["phone_overflow"], false,
        "no sideways scroll on a phone"
    );
    assert_eq!(seen["errors"], serde_json::json!([]), "no script errors");
    for name in [
        "1-one-entry-1280x800.png",
        "2-two-entries-1280x800.png",
        "4-paid-1280x800.png",
        "5-paid-phone-390.png",
    ] {
        assert!(shots.join(name).exists(), "screenshot {name}");
    }
    let _ = std::fs::remove_dir_all(&home);
}
