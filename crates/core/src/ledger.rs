//! The token ledger: internal balances by account and token (`address(0)` = Ether), credited by
//! portal deposits and turned into vouchers by `withdraw`.

use crate::{
    Output, Rejection,
    outputs::{Applied, Map, notice, payout},
};
use alloy_primitives::{Address, U256};
use crucible_types::abi::ICrucibleOutputs;
use serde::Serialize;

/// Every internal balance.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Ledger {
    balances: Map<Address, Map<Address, U256>>,
}

impl Ledger {
    /// `account`'s balances by token.
    pub(crate) fn of(&self, account: &Address) -> Map<Address, U256> {
        self.balances.get(account).cloned().unwrap_or_default()
    }

    /// `account`'s balance of `token` (zero when it has none).
    fn balance(&self, account: Address, token: Address) -> U256 {
        self.balances
            .get(&account)
            .and_then(|b| b.get(&token))
            .copied()
            .unwrap_or_default()
    }

    /// Adds to an internal balance; a balance cannot pass 2²⁵⁶ − 1, so such a deposit (only
    /// a token with an absurd supply can make one) is refused rather than credited short.
    pub(crate) fn credit(&mut self, account: Address, token: Address, amount: U256) -> Applied {
        let balance = self.balance(account, token);
        let Some(sum) = balance.checked_add(amount) else {
            return Err(Rejection::Overflow(format!(
                "crediting {amount} of token {token} to {account} would overflow its balance {balance}"
            ))
            .into());
        };
        self.balances.entry(account).or_default().insert(token, sum);
        Ok(())
    }

    pub(crate) fn withdraw(
        &mut self,
        account: Address,
        token: Address,
        amount: U256,
        out: &mut Vec<Output>,
    ) -> Applied {
        let balance = self.balance(account, token);
        if amount.is_zero() {
            return Err(Rejection::Refused("withdraw amount must be positive".into()).into());
        }
        if amount > balance {
            return Err(Rejection::InsufficientBalance {
                token,
                amount,
                balance,
            }
            .into());
        }
        let tokens = self.balances.entry(account).or_default();
        if amount == balance {
            tokens.remove(&token);
        } else {
            tokens.insert(token, balance - amount);
        }
        if tokens.is_empty() {
            self.balances.remove(&account);
        }
        out.push(payout(token, account, amount));
        out.push(notice(ICrucibleOutputs::WithdrawnCall {
            account,
            token,
            amount,
        }));
        Ok(())
    }
}
