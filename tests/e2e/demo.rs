//! `crucible demo --json` on a fresh devnet: the document it prints, checked against the
//! chain's own rules and against `crucible score`.

use crucible_e2e::{bins, run_json, skipped, token_artifact, tool};
use serde_json::Value;

fn u128_of(v: &Value) -> u128 {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a decimal amount: {v}"))
}

fn cli_score(model: &str) -> u64 {
    run_json(
        &bins().cli,
        &[
            "score",
            "--model",
            model,
            "--data",
            "data/fashion-mnist/val-1k.safetensors",
            "--metric",
            "accuracy",
            "--json",
        ],
    )["value_ppm"]
        .as_u64()
        .unwrap()
}

#[test]
fn demo_pays_the_finalists_and_ranks_the_copy_below_the_original() {
    if tool("anvil").is_none() {
        skipped("anvil not found under node_modules (run npm ci)");
        return;
    }
    if token_artifact().is_none() {
        return;
    }
    let home = std::env::temp_dir().join(format!("crucible-demo-test-{}", std::process::id()));
    let doc = run_json(
        &bins().cli,
        &["demo", "--json", "--home", home.to_str().unwrap()],
    );
    assert_eq!(doc["competition_id"], 1);

    // Each trainer's score is what `crucible score` computes locally.
    let subs = doc["submissions"].as_array().unwrap();
    assert_eq!(subs.len(), 3);
    assert_eq!(subs[0]["score_ppm"], cli_score("models/mlp/model.onnx"));
    assert_eq!(subs[1]["score_ppm"], cli_score("models/cnn/model.onnx"));

    // The disguised copy scores the same as the original and ranks below it.
    let board = doc["leaderboard"].as_array().unwrap();
    assert_eq!(board.len(), 3);
    let rank_of = |name: &str| {
        board
            .iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("{name} is on the leaderboard"))
    };
    let (alice, carol) = (rank_of("alice"), rank_of("carol"));
    assert_eq!(alice["score_ppm"], carol["score_ppm"]);
    assert_ne!(alice["model_cid"], carol["model_cid"]);
    assert!(carol["rank"].as_u64() > alice["rank"].as_u64());
    for (i, e) in board.iter().enumerate() {
        assert_eq!(e["rank"], i + 1);
    }

    // Every payout was executed on L1 and moved exactly its amount; together they are the
    // reward, and they go to the two finalists (the top two on validation).
    let payouts = doc["payouts"].as_array().unwrap();
    assert_eq!(payouts.len(), 2);
    let mut total = 0;
    for p in payouts {
        assert_eq!(p["executed"], true);
        let amount = u128_of(&p["amount"]);
        assert_eq!(
            u128_of(&p["balance_after"]) - u128_of(&p["balance_before"]),
            amount
        );
        total += amount;
        assert!(
            board[..2].iter().any(|e| e["submitter"] == p["to"]),
            "{p} goes to a finalist"
        );
    }
    assert_eq!(total, u128_of(&doc["reward"]));
    assert!(
        !payouts.iter().any(|p| p["name"] == "carol"),
        "the copy is paid nothing"
    );
    let _ = std::fs::remove_dir_all(&home);
}
