//! `crucible demo --json` on a fresh devnet: the document it prints (read as the CLI's own
//! `docs::Demo`), checked against the chain's own rules and against `crucible score`.

use crucible_cli::docs::{Demo, Scored};
use crucible_e2e::{bins, devnet_tools, run_doc};

fn cli_score(model: &str) -> u64 {
    run_doc::<Scored>(
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
    )
    .value_ppm
}

#[test]
fn demo_pays_the_live_entries_and_the_copy_nothing() {
    if !devnet_tools() {
        return;
    }
    let home = std::env::temp_dir().join(format!("crucible-demo-test-{}", std::process::id()));
    let doc: Demo = run_doc(
        &bins().cli,
        &["demo", "--json", "--home", home.to_str().unwrap()],
    );
    assert_eq!(doc.competition_id, 1);

    // Each trainer's score is what `crucible score` computes locally.
    let subs = &doc.submissions;
    assert_eq!(subs.len(), 4);
    assert_eq!(subs[0].score_ppm, cli_score("models/mlp/model.onnx"));
    assert_eq!(subs[1].score_ppm, cli_score("models/cnn/model.onnx"));

    // The disguised copy scores the same as the original, ranks as its copy and is not on
    // the leaderboard.
    assert_eq!(subs[2].score_ppm, subs[0].score_ppm);
    assert_eq!(subs[2].copy_of, Some(subs[0].priority));
    assert_ne!(subs[2].model_cid, subs[0].model_cid);
    // Dave's model, fine-tuned live by crucible-trainer, scores in the DApp what the trainer
    // measured on the same validation set.
    let trained = doc.trained.as_ref().expect("dave trained live");
    assert_eq!(trained["start"], "init");
    assert_eq!(
        Some(subs[3].correct),
        trained["evaluation"]["correct"].as_u64()
    );
    let board = &doc.leaderboard;
    assert_eq!(board.len(), 3);
    assert!(!board.iter().any(|e| e.name == "carol"));
    for (i, e) in board.iter().enumerate() {
        assert_eq!(e.rank, i as u64 + 1);
    }

    // Every payout was executed on L1 and moved exactly its amount; together they are the
    // reward, and they go to the two live entries.
    let payouts = &doc.payouts;
    assert_eq!(payouts.len(), 2);
    let mut total = alloy::primitives::U256::ZERO;
    for p in payouts {
        assert!(p.executed);
        assert_eq!(p.balance_after - p.balance_before, p.amount);
        total += p.amount;
        assert!(
            board[..2].iter().any(|e| e.submitter == p.to),
            "{p:?} goes to a finalist"
        );
    }
    assert_eq!(total, doc.reward);
    assert!(
        !payouts.iter().any(|p| p.name == "carol"),
        "the copy is paid nothing"
    );

    // A Quorum of validators (three native, one riscv64 under qemu when built) claimed every
    // epoch with the same root, and a replay in a fresh DApp agrees with every claim.
    let validators = &doc.validators;
    assert!(validators.len() >= 3, "{validators:?}");
    for e in &doc.validation.epochs {
        assert_eq!(e.claims, validators.len() as u64, "{e:?}");
        assert_eq!(e.agreeing, e.claims, "{e:?}");
        assert!(e.accepted, "{e:?}");
    }
    assert!(doc.validation.replay.ok, "{}", doc.validation.replay);
    let _ = std::fs::remove_dir_all(&home);
}
