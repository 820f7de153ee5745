//! Inspect paths. Each answer is one JSON document of a [`crucible_types::inspect`] type;
//! an unknown path or id answers [`ErrorAnswer`] rather than failing, since inspect
//! requests are never rejected.

use crate::{Result, State, competition::Competition};
use alloy_primitives::Address;
use crucible_types::{
    Cid,
    inspect::{
        BalanceAnswer, BlobAnswer, CompetitionAnswer, CompetitionSummary, ErrorAnswer,
        LeaderboardEntry, StatusAnswer, SubmissionAnswer,
    },
};
use serde::Serialize;
use serde_json::Value;

pub(crate) use crucible_types::inspect::PATHS;

pub(crate) fn answer(state: &State, query: &[u8]) -> Result<Vec<u8>> {
    match std::str::from_utf8(query) {
        Ok(path) => route(state, path.trim().trim_matches('/')),
        Err(_) => json(&error("the inspect payload must be a UTF-8 path".into())),
    }
}

fn json<T: Serialize>(v: &T) -> Result<Vec<u8>> {
    Ok(serde_json::to_vec(v)?)
}

fn error(message: String) -> ErrorAnswer {
    ErrorAnswer { error: message }
}

/// A typed view of an internal record: its serialization read back as the public type
/// (with `extra` fields added), so a renamed field fails here rather than in a reader.
fn view<T: serde::de::DeserializeOwned>(
    record: &impl Serialize,
    extra: impl IntoIterator<Item = (&'static str, Value)>,
) -> Result<T> {
    let mut v = serde_json::to_value(record)?;
    for (k, x) in extra {
        v[k] = x;
    }
    Ok(serde_json::from_value(v)?)
}

fn route(state: &State, path: &str) -> Result<Vec<u8>> {
    let parts: Vec<&str> = path.split('/').collect();
    let comp = |id: &str| -> std::result::Result<&Competition, ErrorAnswer> {
        let id: u64 = id
            .parse()
            .map_err(|_| error(format!("{id:?} is not a competition id")))?;
        state
            .competitions
            .get(&id)
            .map(|c| &**c)
            .ok_or_else(|| error(format!("unknown competition {id}")))
    };
    match parts.as_slice() {
        ["" | "status"] => json(&StatusAnswer {
            state_hash: state.state_hash()?,
            competitions: state.competitions.len() as u64,
            blobs: state.store.blobs.len() as u64,
            stored_bytes: state.store.used,
            reserved_bytes: state.store.reserved(),
            max_stored_bytes: state.config.max_stored_bytes,
            config: serde_json::to_value(&state.config)?,
        }),
        ["competitions"] => json(
            &state
                .competitions
                .values()
                .map(|c| summary(c))
                .collect::<Vec<_>>(),
        ),
        ["competition", id] => match comp(id) {
            Ok(c) => json(&view::<CompetitionAnswer>(
                c,
                [("leaderboard", serde_json::to_value(leaderboard(c))?)],
            )?),
            Err(e) => json(&e),
        },
        ["leaderboard", id] => match comp(id) {
            Ok(c) => json(&leaderboard(c)),
            Err(e) => json(&e),
        },
        ["submission", id, priority] => match (comp(id), priority.parse::<u64>()) {
            (Ok(c), Ok(p)) => match c.submissions.get(&p) {
                Some(s) => {
                    let rank = c.leaderboard().iter().position(|&q| q == p).map(|r| r + 1);
                    json(&view::<SubmissionAnswer>(
                        s,
                        [("priority", p.into()), ("rank", rank.into())],
                    )?)
                }
                None => json(&error(format!(
                    "competition {id} has no scored submission with priority {p}"
                ))),
            },
            (Err(e), _) => json(&e),
            (_, Err(_)) => json(&error(format!("{priority:?} is not a priority"))),
        },
        ["blob", cid] => match cid.parse::<Cid>() {
            Ok(cid) => json(&match state.store.blobs.get(&cid) {
                Some(b) => BlobAnswer::Stored {
                    cid,
                    size: b.size,
                    uploader: b.uploader,
                    input_index: b.input_index,
                    stored_at: b.stored_at,
                    used_by: state.store.refs(&cid),
                },
                None => BlobAnswer::Missing { cid, stored: false },
            }),
            Err(e) => json(&error(e.to_string())),
        },
        ["balance", address] => match address.parse::<Address>() {
            Ok(a) => json(&BalanceAnswer {
                account: a,
                balances: state.ledger.of(&a).into_iter().collect(),
            }),
            Err(e) => json(&error(format!("{address:?} is not an address: {e}"))),
        },
        _ => json(&error(format!(
            "unknown path {path:?}; known paths: {PATHS}"
        ))),
    }
}

fn summary(c: &Competition) -> CompetitionSummary {
    CompetitionSummary {
        id: c.id,
        sponsor: c.sponsor,
        token: c.token,
        reward: c.reward,
        metric: c.metric.name().to_string(),
        validation_cid: c.validation_cid,
        submission_deadline: c.submission_deadline,
        reveal_deadline: c.reveal_deadline,
        submissions: c.submissions.len() as u64,
        test_set_revealed: c.test_set.is_some(),
        finalized: c.finalized.is_some(),
    }
}

fn leaderboard(c: &Competition) -> Vec<LeaderboardEntry> {
    c.leaderboard()
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let s = &c.submissions[p];
            LeaderboardEntry {
                rank: i as u64 + 1,
                priority: *p,
                submitter: s.submitter,
                model_cid: s.model_cid,
                score_ppm: s.score.value_ppm,
                samples: s.score.samples,
                correct: s.score.correct,
            }
        })
        .collect()
}
