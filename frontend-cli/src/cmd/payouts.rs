//! Payouts: list vouchers, execute them on L1 with the node's proofs, balances.

use crate::docs::{Balance, Executed, VoucherRow};
use crate::{
    cmd::competition::print,
    exit::invalid,
    session::{Global, Session},
};
use alloy::primitives::{Address, B256, Bytes, U256};
use anyhow::{Context, bail};
use crucible_api::Output;
use crucible_chain::Confirm;
use crucible_chain::app::{IApplication, OutputValidityProof};
use crucible_types::inspect::BalanceAnswer;
use std::time::{Duration, Instant};

/// A voucher as the CLI shows it.
#[derive(Debug, Clone)]
pub(crate) struct Voucher {
    pub(crate) index: u64,
    /// The contract called (the token), or the recipient of an ether voucher.
    pub(crate) destination: Address,
    /// Who gets paid: `transfer`'s recipient, or the destination of an ether voucher.
    pub(crate) to: Address,
    /// The ERC-20 amount or the wei.
    pub(crate) amount: U256,
    /// The token, `address(0)` for ether.
    pub(crate) token: Address,
    pub(crate) raw: Vec<u8>,
    pub(crate) siblings: Option<Vec<B256>>,
}

/// The voucher `o` is, if it is one.
fn voucher(o: &Output) -> Option<Voucher> {
    let (destination, ..) = o.voucher()?;
    let payment = o.decoded_data.as_ref()?.payment()?;
    Some(Voucher {
        index: o.index.get(),
        destination,
        to: payment.to,
        amount: payment.amount,
        token: payment.token,
        raw: o.raw_data.to_vec(),
        siblings: o.output_hashes_siblings.clone(),
    })
}

/// Every voucher the node lists, oldest first.
pub(crate) async fn vouchers(s: &Session) -> anyhow::Result<Vec<Voucher>> {
    Ok(s.node.outputs().await?.iter().filter_map(voucher).collect())
}

async fn executed(s: &Session, index: u64) -> anyhow::Result<bool> {
    Ok(IApplication::new(s.app, &s.provider)
        .wasOutputExecuted(U256::from(index))
        .call()
        .await?)
}

fn voucher_row(v: &Voucher, executed: bool) -> VoucherRow {
    VoucherRow {
        index: v.index,
        destination: v.destination,
        to: v.to,
        token: v.token,
        amount: v.amount,
        executed,
        proof_ready: v.siblings.is_some(),
    }
}

/// List payout vouchers (with --mine, those that pay the signer).
pub(crate) async fn list(global: &Global, mine: bool) -> anyhow::Result<()> {
    let s = global.session(mine).await?;
    let me = if mine { Some(s.me()?) } else { None };
    let mut rows = Vec::new();
    for v in vouchers(&s).await? {
        if me.is_some_and(|m| m != v.to) {
            continue;
        }
        let done = executed(&s, v.index).await?;
        rows.push(voucher_row(&v, done));
    }
    print(&s, &rows, || {
        println!(
            "{:>6}  {:<42}  {:>26}  {:<8}  proof",
            "output", "to", "amount", "executed"
        );
        for r in &rows {
            println!(
                "{:>6}  {:<42}  {:>26}  {:<8}  {}",
                r.index,
                r.to.to_string(),
                r.amount.to_string(),
                r.executed,
                if r.proof_ready {
                    "ready"
                } else {
                    "waiting for an accepted root"
                }
            );
        }
    });
    Ok(())
}

/// Executes voucher `index` with the node's proof, waiting up to `wait` for the consensus to
/// accept a root that covers it (the node proves outputs only against such roots); checks
/// the proof on chain before sending; returns the payee's balance before and after.
pub(crate) async fn execute_one(
    s: &Session,
    index: u64,
    wait: Duration,
) -> anyhow::Result<Executed> {
    let started = Instant::now();
    let spinner = s.node.spinner(format!(
        "waiting for the consensus to accept the root of output {index}'s epoch"
    ));
    let v = loop {
        let out = s
            .node
            .api()
            .output(index)
            .await
            .map_err(|e| invalid(format!("output {index}: {e}")))?
            .ok_or_else(|| invalid(format!("output {index}: no such output")))?;
        let v = voucher(&out).ok_or_else(|| invalid(format!("output {index} is not a voucher")))?;
        if v.siblings.is_some() {
            spinner.finish_and_clear();
            break v;
        }
        if started.elapsed() > wait {
            bail!(
                "output {index} has no proof yet: the consensus has accepted no root that covers it, as this node computed it (epochs are claimed once the chain is past them; a Quorum accepts a root once a majority of validators claims it; `crucible validate` shows who claimed what)"
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    if executed(s, index).await? {
        return Err(invalid(format!("voucher {index} was already executed")).into());
    }
    let before = s.l1_balance(v.token, v.to).await?;
    let proof = OutputValidityProof {
        outputIndex: index,
        outputHashesSiblings: v.siblings.clone().unwrap_or_default(),
    };
    let application = IApplication::new(s.app, &s.provider);
    if let Err(e) = application
        .validateOutput(Bytes::from(v.raw.clone()), proof.clone())
        .call()
        .await
    {
        bail!(
            "the node's proof of output {index} is not against a root the consensus accepted ({e}): this node's history differs from the accepted one; ask another validator's node (`crucible validate` names who diverged)"
        );
    }
    let receipt = application
        .executeOutput(Bytes::from(v.raw.clone()), proof)
        .send()
        .await
        .context("executeOutput")?
        .confirmed()
        .await?;
    if !receipt.status() {
        bail!(
            "executeOutput reverted (transaction {})",
            receipt.transaction_hash
        );
    }
    let after = s.l1_balance(v.token, v.to).await?;
    Ok(Executed {
        index,
        to: v.to,
        token: v.token,
        amount: v.amount,
        executed: true,
        transaction: receipt.transaction_hash,
        balance_before: before,
        balance_after: after,
    })
}

/// Execute vouchers on L1.
///
/// Examples: crucible execute 12 --dev-account 2 · crucible execute --all-mine --dev-account 2
#[derive(Debug, clap::Args)]
pub(crate) struct ExecuteArgs {
    /// Output indices of the vouchers.
    #[arg(required_unless_present = "all_mine")]
    indices: Vec<u64>,
    /// Every unexecuted voucher that pays the signer.
    #[arg(long)]
    all_mine: bool,
    /// Seconds to wait for the consensus to accept a root that covers the voucher.
    #[arg(long, default_value_t = 120)]
    wait: u64,
}

impl ExecuteArgs {
    pub(crate) async fn run(self, global: &Global) -> anyhow::Result<()> {
        let s = global.session(true).await?;
        let mut indices = self.indices.clone();
        if self.all_mine {
            let me = s.me()?;
            for v in vouchers(&s).await? {
                if v.to == me && !executed(&s, v.index).await? {
                    indices.push(v.index);
                }
            }
        }
        let mut done = Vec::new();
        for i in indices {
            let r = execute_one(&s, i, Duration::from_secs(self.wait)).await?;
            s.say(format!(
                "voucher {i} executed: {} now holds {} (was {})",
                r.to, r.balance_after, r.balance_before
            ));
            done.push(r);
        }
        if s.json {
            println!("{}", serde_json::to_string(&done)?);
        }
        Ok(())
    }
}

/// Balances on L1 (ether and the reward token) and inside the DApp.
pub(crate) async fn balance(
    global: &Global,
    who: Option<Address>,
    token: Option<Address>,
) -> anyhow::Result<()> {
    let s = global.session(false).await?;
    let who = match who {
        Some(w) => w,
        None => s
            .me()
            .map_err(|_| invalid("give an address, or a key (--key / --dev-account)"))?,
    };
    let eth = s.l1_balance(Address::ZERO, who).await?;
    let token = token.or(s.devnet_token);
    let erc20 = match token {
        Some(t) => Some(s.l1_balance(t, who).await?),
        None => None,
    };
    let inside: BalanceAnswer = s.node.inspect(&format!("balance/{who}")).await?;
    let out = Balance {
        account: who,
        ether_wei: eth,
        token,
        token_balance: erc20,
        dapp_balances: inside.balances.clone(),
    };
    print(&s, &out, || {
        println!("{who}");
        println!("  L1 ether (wei)  {eth}");
        if let (Some(t), Some(b)) = (token, erc20) {
            println!("  L1 token {t}  {b}");
        }
        for (token, amount) in &inside.balances {
            println!("  inside the DApp {token}  {amount}");
        }
    });
    Ok(())
}
