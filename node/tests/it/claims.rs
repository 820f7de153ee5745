//! Claims on a real Authority: an epoch's root is claimed once, the outputs it covers get
//! their proofs, and a node that crashed after sending a claim but before recording it
//! adopts the claim it finds on chain instead of failing on `NotFirstClaim`.

use crate::devnet_support::{connect, dapp, repo, start_anvil, token_artifact, upload};
use alloy::{primitives::U256, providers::Provider, signers::local::PrivateKeySigner};
use crucible_chain::{app::IApplication, devnet};
use crucible_node::{
    machine::{HostMachine, MachineConfig},
    merkle::root_from_proof,
    runner::Runner,
    store::Store,
};

/// A runner for the devnet's application, reading with `provider`, on a fresh DApp.
async fn runner<P: Provider>(provider: P, d: &devnet::Deployment, store: Store) -> Runner<P> {
    let machine = HostMachine::start(&dapp(), MachineConfig::default())
        .await
        .unwrap();
    Runner::open(provider, d.application, d.input_box, machine, store, 0)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_claim_found_on_chain_after_a_crash_is_adopted() {
    let Some(anvil) = start_anvil() else { return };
    let Some(token) = token_artifact() else {
        return;
    };
    let owner: PrivateKeySigner = devnet::ANVIL_KEYS[0].parse().unwrap();
    let provider = connect(&anvil, &owner).await;
    let d = devnet::deploy(
        &provider,
        owner.address(),
        &devnet::ConsensusSpec::Authority(owner.address()),
        1,
        &repo().join("node_modules/@cartesi/rollups/out"),
        &token,
        U256::from(1u64),
    )
    .await
    .unwrap();
    upload(&provider, d.input_box, d.application, b"a blob to store").await;
    let head = provider.get_block_number().await.unwrap();

    let dir = std::env::temp_dir().join(format!("crucible-claims-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("node.sqlite");
    let _ = std::fs::remove_file(&db);
    let open = || runner(provider.clone(), &d, Store::open(&db).unwrap());

    // A node whose key does not own the Authority is told so, and does not retry.
    {
        let stranger: PrivateKeySigner = devnet::ANVIL_KEYS[5].parse().unwrap();
        let mut node = runner(
            connect(&anvil, &stranger).await,
            &d,
            Store::in_memory().unwrap(),
        )
        .await;
        node.sync(head).await.unwrap();
        let refused = node
            .claim(d.consensus, head, stranger.address())
            .await
            .unwrap_err();
        assert!(
            matches!(refused, crucible_node::Error::ClaimRefused { .. }),
            "{refused}"
        );
        assert!(
            refused.to_string().contains("Authority's owner"),
            "{refused}"
        );
    }

    // Reading in slices: two more inputs, processed one per step, the cursor moving past
    // the range only when all its inputs are done.
    for i in 0..2u8 {
        upload(&provider, d.input_box, d.application, &[i; 10]).await;
    }
    let later = provider.get_block_number().await.unwrap();
    {
        let mut sliced = runner(provider.clone(), &d, Store::in_memory().unwrap()).await;
        let mut steps = 0;
        while !sliced.sync_step(later, 1).await.unwrap() {
            steps += 1;
            assert_eq!(sliced.inputs().len(), steps, "one input per step");
            assert!(
                sliced.next_block() <= later,
                "the cursor waits for the range"
            );
        }
        // The step that processes the last input also finds the range done.
        assert_eq!((sliced.inputs().len(), steps), (3, 2));
        assert_eq!(sliced.next_block(), later + 1);
        let mut whole = runner(provider.clone(), &d, Store::in_memory().unwrap()).await;
        whole.sync(later).await.unwrap();
        assert_eq!(sliced.root(), whole.root());
    }

    let mut node = open().await;
    let early = node
        .claim(d.consensus, head, owner.address())
        .await
        .unwrap_err();
    assert!(early.to_string().contains("read only up to"), "{early}");
    node.sync(head).await.unwrap();
    let claim = node
        .claim(d.consensus, head, owner.address())
        .await
        .unwrap();
    assert_eq!((claim.root, claim.outputs), (node.root(), 1));
    assert!(claim.tx.is_some());
    // The proof the claim stored validates on L1.
    let (output, proof) = node.proof(0).unwrap();
    assert_eq!(
        root_from_proof(
            alloy::primitives::keccak256(&output),
            0,
            &proof.outputHashesSiblings
        ),
        claim.root
    );
    IApplication::new(d.application, &provider)
        .validateOutput(output, proof)
        .call()
        .await
        .expect("the Application accepts the proof");
    drop(node);

    // The crash: the claim reached L1 but not the database.
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute("DELETE FROM claims", []).unwrap();
    drop(conn);
    let mut node = open().await;
    assert!(node.claims().is_empty());
    let adopted = node
        .claim(d.consensus, head, owner.address())
        .await
        .unwrap();
    assert_eq!(adopted, claim, "the claim on chain, with its transaction");
    assert_eq!(Store::open(&db).unwrap().claims().unwrap(), vec![claim]);
    let _ = std::fs::remove_dir_all(&dir);
}
