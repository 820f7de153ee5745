//! The leaderboard web page crucible-node serves at `/`: competitions, their leaderboards
//! and score history, payouts and every epoch's claims. The page's HTML, script and style
//! are in the binary; it loads nothing from elsewhere and refreshes itself from
//! `GET /api/overview`, which this module builds from the DApp's inspect answers and the
//! node's database. `GET /competitions/<id>/scores.svg` plots a competition's score history.

use crate::{
    query::{Ctx, Reply, epoch_claims, json_reply, run_inspect, text},
    store::{OutputFilter, Page, Store},
};
use alloy::{
    primitives::{Address, B256, U256},
    sol_types::SolInterface,
};
use bytes::Bytes;
use crucible_api::{DecodedOutput, EpochStatus, Payment};
use crucible_types::{
    Cid,
    abi::{ICrucibleOutputsCalls, Metric},
    inspect::{Answer, CompetitionSummary, LeaderboardEntry},
};
use http_body_util::Full;
use hyper::{Response, StatusCode, header};
use serde::{Serialize, de::DeserializeOwned};
use std::{collections::BTreeMap, sync::Arc};

const INDEX: &str = include_str!("web/index.html");
const APP_JS: &str = include_str!("web/app.js");
const STYLE: &str = include_str!("web/style.css");

fn reply(body: impl Into<Bytes>, content_type: &'static str) -> Reply {
    let mut r = Response::new(Full::new(body.into()));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    r
}

/// `GET /`.
pub(crate) fn page() -> Reply {
    reply(INDEX, "text/html; charset=utf-8")
}

/// `GET /assets/<name>`.
pub(crate) fn asset(name: &str) -> Reply {
    match name {
        "app.js" => reply(APP_JS, "text/javascript; charset=utf-8"),
        "style.css" => reply(STYLE, "text/css; charset=utf-8"),
        _ => text(StatusCode::NOT_FOUND, format!("no asset {name}")),
    }
}

/// One row of a competition's leaderboard on the page.
#[derive(Debug, Clone, Serialize)]
struct Row {
    rank: u64,
    priority: u64,
    submitter: Address,
    model_cid: Cid,
    score_ppm: u64,
    samples: u64,
    correct: u64,
    /// The input whose notice carries the score.
    input_index: Option<u64>,
    /// Whether that notice is provable on L1 yet (an accepted claim covers it).
    provable: bool,
}

/// One scored submission, live or not (a point of the plot).
#[derive(Debug, Clone, Serialize)]
struct ScorePoint {
    input_index: u64,
    /// Its block's time (seconds).
    time: u64,
    submitter: Address,
    priority: u64,
    score_ppm: u64,
}

/// One payout voucher.
#[derive(Debug, Clone, Serialize)]
struct Payout {
    output_index: u64,
    to: Address,
    token: Address,
    amount: U256,
    provable: bool,
    executed: bool,
    execution_transaction: Option<B256>,
    /// What executes it.
    command: String,
}

#[derive(Debug, Clone, Serialize)]
struct CompetitionPage {
    #[serde(flatten)]
    summary: CompetitionSummary,
    /// `open`, `revealing` (past the submission deadline), or `finalized`.
    status: &'static str,
    higher_is_better: bool,
    leaderboard: Vec<Row>,
    scores: Vec<ScorePoint>,
    payouts: Vec<Payout>,
}

#[derive(Debug, Clone, Serialize)]
struct ClaimRow {
    submitter: Address,
    root: B256,
    /// Whether it is the root this node computed.
    agrees: bool,
    tx: Option<B256>,
}

#[derive(Debug, Clone, Serialize)]
struct EpochPage {
    index: u64,
    last_block: u64,
    status: Option<EpochStatus>,
    /// This node's root, once the epoch is read.
    root: Option<B256>,
    accepted_root: Option<B256>,
    claims: Vec<ClaimRow>,
}

/// The last overview built, with the (processed inputs, consensus cursor) it reflects: the
/// DApp's answers change only with inputs and the rest only with inputs and the consensus'
/// logs, so however many pages poll, the DApp answers the overview's inspects once per change.
pub(crate) type Cache = tokio::sync::Mutex<Option<((u64, u64), Arc<Overview>)>>;

/// `GET /api/overview`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Overview {
    application: Address,
    chain_id: u64,
    processed_inputs: u64,
    /// The latest block time among the processed inputs (the page's "now").
    chain_time: u64,
    competitions: Vec<CompetitionPage>,
    epochs: Vec<EpochPage>,
}

/// An inspect answer of type `T`, or the reply that says why there is none.
async fn inspect<T: DeserializeOwned>(ctx: &Ctx, path: &str) -> Result<T, Reply> {
    let (result, _) = run_inspect(ctx, path.as_bytes().to_vec()).await?;
    let report = result.reports.first().ok_or_else(|| {
        text(
            StatusCode::BAD_GATEWAY,
            format!("the DApp answered inspect {path} with no report"),
        )
    })?;
    serde_json::from_slice::<Answer<T>>(report)
        .map_err(|e| {
            text(
                StatusCode::BAD_GATEWAY,
                format!("inspect {path}: unexpected answer: {e}"),
            )
        })?
        .into_result()
        .map_err(|e| text(StatusCode::NOT_FOUND, format!("inspect {path}: {e}")))
}

/// What the database says of every competition: scores and payouts from the outputs.
#[derive(Debug, Default)]
struct FromOutputs {
    /// Competition → every scored submission, oldest first.
    scores: BTreeMap<u64, Vec<ScorePoint>>,
    /// (competition, priority) → the input of its latest score notice and whether the
    /// notice is provable.
    notices: BTreeMap<(u64, u64), (u64, bool)>,
    /// Competition → its payouts.
    payouts: BTreeMap<u64, Vec<Payout>>,
    chain_time: u64,
}

/// Input `input`'s block time in seconds (0 if there is no such input).
fn block_time(store: &Store, input: u64) -> crate::Result<u64> {
    Ok(store.input(input)?.map_or(0, |row| {
        crate::rpc_api::block_time(&row.blob).timestamp().max(0) as u64
    }))
}

fn from_outputs(store: &Store, app: Address) -> crate::Result<FromOutputs> {
    let mut out = FromOutputs::default();
    let mut offset = 0;
    // Competition finalized by each input (its vouchers follow its notice).
    let mut finalized_by: BTreeMap<u64, u64> = BTreeMap::new();
    let mut vouchers = Vec::new();
    loop {
        let page = Page {
            offset,
            limit: 10_000,
            descending: false,
        };
        let (rows, total) = store.list_outputs(&OutputFilter::default(), page)?;
        offset += rows.len() as u64;
        for row in rows {
            match DecodedOutput::decode(&row.bytes) {
                Some(DecodedOutput::Notice { payload }) => {
                    match ICrucibleOutputsCalls::abi_decode(&payload) {
                        Ok(ICrucibleOutputsCalls::SubmissionScored(s)) => {
                            out.scores
                                .entry(s.competitionId)
                                .or_default()
                                .push(ScorePoint {
                                    input_index: row.input,
                                    time: block_time(store, row.input)?,
                                    submitter: s.submitter,
                                    priority: s.priority,
                                    score_ppm: s.valuePpm,
                                });
                            out.notices.insert(
                                (s.competitionId, s.priority),
                                (row.input, row.siblings.is_some()),
                            );
                        }
                        Ok(ICrucibleOutputsCalls::CompetitionFinalized(f)) => {
                            finalized_by.insert(row.input, f.competitionId);
                        }
                        _ => {}
                    }
                }
                Some(voucher @ DecodedOutput::Voucher { .. }) => {
                    if let Some(payment) = voucher.payment() {
                        vouchers.push((row.index, row.input, payment, row.siblings.is_some()));
                    }
                }
                _ => {}
            }
        }
        if offset >= total {
            break;
        }
    }
    for (index, input, Payment { to, amount, token }, provable) in vouchers {
        let Some(&competition) = finalized_by.get(&input) else {
            continue;
        };
        let execution_transaction = store.executed(index)?;
        out.payouts.entry(competition).or_default().push(Payout {
            output_index: index,
            to,
            token,
            amount,
            provable,
            executed: execution_transaction.is_some(),
            execution_transaction,
            command: format!("crucible execute {index} --app {app}"),
        });
    }
    let count = store.input_count()?;
    if count > 0 {
        out.chain_time = block_time(store, count - 1)?;
    }
    Ok(out)
}

fn epochs(ctx: &Ctx, store: &Store) -> crate::Result<Vec<EpochPage>> {
    let statuses: BTreeMap<u64, EpochStatus> = crate::rpc_api::epochs(&ctx.config, store)
        .unwrap_or_default()
        .into_iter()
        .map(|e| (e.index.get(), e.status))
        .collect();
    Ok(epoch_claims(store, ctx.config.epoch_length)?
        .into_iter()
        .map(|e| EpochPage {
            index: e.epoch_index,
            last_block: e.last_block,
            status: statuses.get(&e.epoch_index).copied(),
            root: e.root,
            accepted_root: e.accepted.map(|a| a.root),
            claims: e
                .claims
                .iter()
                .map(|c| ClaimRow {
                    submitter: c.submitter,
                    root: c.root,
                    agrees: Some(c.root) == e.root,
                    tx: c.tx,
                })
                .collect(),
        })
        .rev()
        .collect())
}

/// The overview, from the cache when nothing changed since it was built.
async fn cached(ctx: &Arc<Ctx>) -> Result<Arc<Overview>, Reply> {
    let db = ctx.clone();
    let key = tokio::task::spawn_blocking(move || -> crate::Result<(u64, u64)> {
        let store = db
            .store
            .lock()
            .map_err(|_| crate::Error::Store("poisoned".into()))?;
        Ok((store.input_count()?, store.consensus_next_block()?))
    })
    .await;
    let key = match key {
        Ok(Ok(k)) => k,
        Ok(Err(e)) => return Err(text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
        Err(e) => return Err(text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
    };
    // Held across the build: concurrent requests wait for one build instead of each
    // sending the DApp its own inspects.
    let mut cache = ctx.web_cache.lock().await;
    if let Some((k, overview)) = cache.as_ref()
        && *k == key
    {
        return Ok(overview.clone());
    }
    let overview = Arc::new(build(ctx).await?);
    *cache = Some((key, overview.clone()));
    Ok(overview)
}

async fn build(ctx: &Arc<Ctx>) -> Result<Overview, Reply> {
    let summaries: Vec<CompetitionSummary> = inspect(ctx, "competitions").await?;
    let mut boards = Vec::with_capacity(summaries.len());
    for s in &summaries {
        let board: Vec<LeaderboardEntry> = inspect(ctx, &format!("leaderboard/{}", s.id)).await?;
        boards.push(board);
    }
    let db = ctx.clone();
    let read = tokio::task::spawn_blocking(move || -> crate::Result<_> {
        let store = db
            .store
            .lock()
            .map_err(|_| crate::Error::Store("poisoned".into()))?;
        Ok((
            from_outputs(&store, db.config.app)?,
            epochs(&db, &store)?,
            store.input_count()?,
        ))
    })
    .await;
    let (mut outputs, epochs, processed) = match read {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return Err(text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
        Err(e) => return Err(text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
    };
    let chain_time = outputs.chain_time;
    let competitions = summaries
        .into_iter()
        .zip(boards)
        .map(|(summary, board)| {
            let id = summary.id;
            let leaderboard = board
                .into_iter()
                .map(|e| {
                    let notice = outputs.notices.get(&(id, e.priority)).copied();
                    Row {
                        rank: e.rank,
                        priority: e.priority,
                        submitter: e.submitter,
                        model_cid: e.model_cid,
                        score_ppm: e.score_ppm,
                        samples: e.samples,
                        correct: e.correct,
                        input_index: notice.map(|n| n.0),
                        provable: notice.is_some_and(|n| n.1),
                    }
                })
                .collect();
            let status = if summary.finalized {
                "finalized"
            } else if chain_time >= summary.submission_deadline {
                "revealing"
            } else {
                "open"
            };
            CompetitionPage {
                status,
                higher_is_better: Metric::from_name(&summary.metric)
                    .is_some_and(Metric::higher_is_better),
                leaderboard,
                scores: outputs.scores.remove(&id).unwrap_or_default(),
                payouts: outputs.payouts.remove(&id).unwrap_or_default(),
                summary,
            }
        })
        .collect();
    Ok(Overview {
        application: ctx.config.app,
        chain_id: ctx.config.chain_id,
        processed_inputs: processed,
        chain_time,
        competitions,
        epochs,
    })
}

/// `GET /api/overview`: everything the page shows.
pub(crate) async fn overview(ctx: &Arc<Ctx>) -> Reply {
    match cached(ctx).await {
        Ok(o) => json_reply(&serde_json::to_value(&*o).unwrap_or_default()),
        Err(r) => r,
    }
}

/// `GET /competitions/<id>/scores.svg`: every scored submission of competition `id` as a
/// point, and the best score so far as a step line, over chain time.
pub(crate) async fn plot(ctx: &Arc<Ctx>, id: &str) -> Reply {
    let Ok(id) = id.parse::<u64>() else {
        return text(
            StatusCode::BAD_REQUEST,
            format!("{id:?} is not a competition id"),
        );
    };
    let overview = match cached(ctx).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    let Some(c) = overview.competitions.iter().find(|c| c.summary.id == id) else {
        return text(StatusCode::NOT_FOUND, format!("no competition {id}"));
    };
    match crate::plot::scores_svg(c.summary.metric.as_str(), c.higher_is_better, &points(c)) {
        Ok(svg) => reply(svg, "image/svg+xml"),
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

fn points(c: &CompetitionPage) -> Vec<(u64, f64)> {
    c.scores
        .iter()
        .map(|s| (s.time, s.score_ppm as f64 / 1e6))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_nothing_from_elsewhere() {
        for (name, text) in [
            ("index.html", INDEX),
            ("app.js", APP_JS),
            ("style.css", STYLE),
        ] {
            for scheme in ["http://", "https://", "//cdn", "@import"] {
                assert!(!text.contains(scheme), "{name} refers to {scheme}");
            }
        }
        for src in INDEX.match_indices("src=\"").map(|(i, _)| &INDEX[i + 5..]) {
            assert!(
                src.starts_with('/'),
                "{name} loads {src:.40}",
                name = "index.html"
            );
        }
        assert_eq!(asset("app.js").status(), StatusCode::OK);
        assert_eq!(asset("../Cargo.toml").status(), StatusCode::NOT_FOUND);
    }
}
