//! Inspect paths. Each answer is one JSON document; an unknown path or id answers
//! `{"error": "..."}` rather than failing, since inspect requests are never rejected.

use crate::{Result, State, competition::Competition};
use alloy_primitives::Address;
use crucible_types::Cid;
use serde_json::{Value, json};

/// Paths this module answers, for the error message.
pub(crate) const PATHS: &str = "status, competitions, competition/<id>, leaderboard/<id>, submission/<id>/<priority>, blob/<cid>, balance/<address>";

pub(crate) fn answer(state: &State, query: &[u8]) -> Result<Vec<u8>> {
    let value = match std::str::from_utf8(query) {
        Ok(path) => route(state, path.trim().trim_matches('/'))?,
        Err(_) => error("the inspect payload must be a UTF-8 path".into()),
    };
    Ok(serde_json::to_vec(&value)?)
}

fn error(message: String) -> Value {
    json!({ "error": message })
}

fn route(state: &State, path: &str) -> Result<Value> {
    let parts: Vec<&str> = path.split('/').collect();
    let comp = |id: &str| -> std::result::Result<&Competition, Value> {
        let id: u64 = id
            .parse()
            .map_err(|_| error(format!("{id:?} is not a competition id")))?;
        state
            .competitions
            .get(&id)
            .map(|c| &**c)
            .ok_or_else(|| error(format!("unknown competition {id}")))
    };
    Ok(match parts.as_slice() {
        ["" | "status"] => json!({
            "state_hash": state.state_hash()?,
            "competitions": state.competitions.len(),
            "blobs": state.store.blobs.len(),
            "stored_bytes": state.store.used,
            "reserved_bytes": state.store.reserved(),
            "max_stored_bytes": state.config.max_stored_bytes,
            "config": state.config,
        }),
        ["competitions"] => Value::Array(state.competitions.values().map(|c| summary(c)).collect()),
        ["competition", id] => match comp(id) {
            Ok(c) => {
                let mut v = serde_json::to_value(c)?;
                v["leaderboard"] = leaderboard(c);
                v
            }
            Err(e) => e,
        },
        ["leaderboard", id] => comp(id).map_or_else(|e| e, leaderboard),
        ["submission", id, priority] => match (comp(id), priority.parse::<u64>()) {
            (Ok(c), Ok(p)) => match c.submissions.get(&p) {
                Some(s) => {
                    let mut v = serde_json::to_value(s)?;
                    v["priority"] = json!(p);
                    v["rank"] = json!(c.leaderboard().iter().position(|&q| q == p).map(|r| r + 1));
                    v
                }
                None => error(format!(
                    "competition {id} has no scored submission with priority {p}"
                )),
            },
            (Err(e), _) => e,
            (_, Err(_)) => error(format!("{priority:?} is not a priority")),
        },
        ["blob", cid] => match cid.parse::<Cid>() {
            Ok(cid) => match state.store.blobs.get(&cid) {
                Some(b) => {
                    json!({ "cid": cid, "size": b.size, "uploader": b.uploader, "input_index": b.input_index, "stored_at": b.stored_at, "used_by": state.store.refs(&cid) })
                }
                None => json!({ "cid": cid, "stored": false }),
            },
            Err(e) => error(e.to_string()),
        },
        ["balance", address] => match address.parse::<Address>() {
            Ok(a) => {
                json!({ "account": a, "balances": state.ledger.of(&a) })
            }
            Err(e) => error(format!("{address:?} is not an address: {e}")),
        },
        _ => error(format!("unknown path {path:?}; known paths: {PATHS}")),
    })
}

fn summary(c: &Competition) -> Value {
    json!({
        "id": c.id,
        "sponsor": c.sponsor,
        "token": c.token,
        "reward": c.reward,
        "metric": c.metric.name(),
        "validation_cid": c.validation_cid,
        "submission_deadline": c.submission_deadline,
        "reveal_deadline": c.reveal_deadline,
        "submissions": c.submissions.len(),
        "test_set_revealed": c.test_set.is_some(),
        "finalized": c.finalized.is_some(),
    })
}

fn leaderboard(c: &Competition) -> Value {
    Value::Array(
        c.leaderboard()
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let s = &c.submissions[p];
                json!({
                    "rank": i + 1,
                    "priority": p,
                    "submitter": s.submitter,
                    "model_cid": s.model_cid,
                    "score_ppm": s.score.value_ppm,
                    "samples": s.score.samples,
                    "correct": s.score.correct,
                })
            })
            .collect(),
    )
}
