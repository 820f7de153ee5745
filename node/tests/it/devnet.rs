//! The devnet on a real anvil: canonical Cartesi v2.2.0 addresses, inputs read back from
//! `InputAdded` logs, and an ERC-20 deposit through the portal as the DApp will see it.

use crate::devnet_support::{add_input, connect, repo, skipped, start_anvil, token_artifact};
use alloy::{
    primitives::{Address, U256, address},
    providers::Provider,
    rpc::types::Filter,
    signers::local::PrivateKeySigner,
    sol_types::{SolCall, SolEvent},
};
use crucible_chain::Confirm;
use crucible_chain::devnet::{self, IERC20, IERC20Portal, IInputBox};
use crucible_types::{Deposit, abi::Inputs};

#[tokio::test(flavor = "multi_thread")]
async fn devnet_deploys_canonical_addresses_and_inputs_round_trip() {
    let Some(anvil) = start_anvil() else { return };
    let Some(token_artifact) = token_artifact() else {
        skipped("forge not found under node_modules (run npm ci)");
        return;
    };
    let owner: PrivateKeySigner = devnet::ANVIL_KEYS[0].parse().unwrap();
    let alice: PrivateKeySigner = devnet::ANVIL_KEYS[1].parse().unwrap();
    let provider = connect(&anvil, &owner).await;

    let rollups = repo().join("node_modules/@cartesi/rollups/out");
    let supply = U256::from(1_000_000u64) * U256::from(10u64).pow(U256::from(18u64));
    let d = devnet::deploy(
        &provider,
        owner.address(),
        &devnet::ConsensusSpec::Authority(owner.address()),
        10,
        &rollups,
        &token_artifact,
        supply,
    )
    .await
    .unwrap();
    assert_eq!(
        d.input_box,
        address!("0x1b51e2992A2755Ba4D6F7094032DF91991a0Cfac")
    );
    assert_eq!(
        d.ether_portal,
        address!("0xA632c5c05812c6a6149B7af5C56117d1D2603828")
    );
    assert_eq!(
        d.erc20_portal,
        address!("0xACA6586A0Cf05bD831f2501E7B4aea550dA6562D")
    );
    assert_eq!(d.input_box, crucible_types::rollup::INPUT_BOX);
    assert_eq!(
        (d.erc20_portal, d.ether_portal),
        (
            crucible_types::rollup::ERC20_PORTAL,
            crucible_types::rollup::ETHER_PORTAL
        )
    );
    // Deploying again is a no-op at the canonical addresses.
    assert_eq!(
        devnet::deploy_create2(
            &provider,
            &devnet::artifact_bytecode(&rollups.join("InputBox.sol/InputBox.json")).unwrap()
        )
        .await
        .unwrap(),
        d.input_box
    );

    // Alice adds an input; the owner deposits tokens with exec-layer data through the portal.
    let alice_provider = connect(&anvil, &alice).await;
    add_input(&alice_provider, d.input_box, d.application, vec![1, 2, 3]).await;
    let amount = U256::from(5_000u64);
    IERC20::new(d.token, &provider)
        .approve(d.erc20_portal, amount)
        .send()
        .await
        .unwrap()
        .confirmed()
        .await
        .unwrap();
    IERC20Portal::new(d.erc20_portal, &provider)
        .depositERC20Tokens(d.token, d.application, amount, vec![0xca, 0xfe].into())
        .send()
        .await
        .unwrap()
        .confirmed()
        .await
        .unwrap();
    assert_eq!(
        IERC20::new(d.token, &provider)
            .balanceOf(d.application)
            .call()
            .await
            .unwrap(),
        amount
    );

    let filter = Filter::new()
        .address(d.input_box)
        .event_signature(IInputBox::InputAdded::SIGNATURE_HASH)
        .topic1(d.application.into_word())
        .from_block(0);
    let logs = provider.get_logs(&filter).await.unwrap();
    assert_eq!(logs.len(), 2);
    let inputs: Vec<Inputs::EvmAdvanceCall> = logs
        .iter()
        .map(|l| {
            let event = l.log_decode::<IInputBox::InputAdded>().unwrap().inner.data;
            Inputs::EvmAdvanceCall::abi_decode(&event.input).unwrap()
        })
        .collect();
    assert_eq!(
        (
            inputs[0].msgSender,
            inputs[0].index,
            inputs[0].payload.as_ref()
        ),
        (alice.address(), U256::ZERO, &[1u8, 2, 3][..])
    );
    assert_eq!(inputs[0].chainId, U256::from(31337));
    assert_eq!(inputs[1].msgSender, d.erc20_portal);
    let deposit = Deposit::decode_erc20(&inputs[1].payload).unwrap();
    assert_eq!(
        (deposit.token, deposit.sender, deposit.amount),
        (d.token, owner.address(), amount)
    );
    assert_eq!(deposit.exec_layer_data, vec![0xca, 0xfe]);
    let count = IInputBox::new(d.input_box, &provider)
        .getNumberOfInputs(d.application)
        .call()
        .await
        .unwrap();
    assert_eq!(count, U256::from(2));
    let _: Address = d.consensus;
}
