//! SQLite persistence of everything the node learnt: each input's raw `EvmAdvance` blob,
//! how the DApp finished it, its outputs and reports, the outputs root after it, the
//! claims it submitted, every claim and acceptance the consensus logged, the epochs whose
//! root (this node's) the consensus holds valid with the proofs of the outputs they cover,
//! an index of the blob chunks, and the last block read. An input, its outputs, its
//! reports, its chunk entry and the block cursor are written in one transaction, so a crash
//! never leaves half an input behind; a proven epoch and its proofs are written in another.
//!
//! The query API reads the same file through its own connection (WAL: readers never wait
//! for the writer).

use crate::{Error, Result, rollup_api::Status};
use alloy::primitives::{Address, B256};
use crucible_api::{DELEGATE_CALL_VOUCHER, VOUCHER};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;

/// Schema version written to `PRAGMA user_version`.
pub const SCHEMA_VERSION: i64 = 4;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS inputs (
    idx INTEGER PRIMARY KEY,
    block INTEGER NOT NULL,
    tx BLOB NOT NULL,
    log_index INTEGER NOT NULL,
    sender BLOB,
    blob BLOB NOT NULL,
    status TEXT NOT NULL,
    exception BLOB,
    first_output INTEGER NOT NULL,
    outputs INTEGER NOT NULL,
    root BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS inputs_by_block ON inputs (block);
CREATE TABLE IF NOT EXISTS outputs (idx INTEGER PRIMARY KEY, input_idx INTEGER NOT NULL, bytes BLOB NOT NULL, siblings BLOB);
CREATE INDEX IF NOT EXISTS outputs_by_input ON outputs (input_idx);
CREATE TABLE IF NOT EXISTS reports (idx INTEGER PRIMARY KEY, input_idx INTEGER NOT NULL, bytes BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS reports_by_input ON reports (input_idx);
CREATE TABLE IF NOT EXISTS claims (block INTEGER PRIMARY KEY, root BLOB NOT NULL, outputs INTEGER NOT NULL, tx BLOB);
CREATE TABLE IF NOT EXISTS chunks (input_idx INTEGER PRIMARY KEY, digest BLOB NOT NULL, uploader BLOB NOT NULL, idx INTEGER NOT NULL, count INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_by_digest ON chunks (digest);
CREATE TABLE IF NOT EXISTS cursor (id INTEGER PRIMARY KEY CHECK (id = 0), next_block INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS chain_claims (block INTEGER NOT NULL, submitter BLOB NOT NULL, root BLOB NOT NULL, tx BLOB, PRIMARY KEY (block, submitter, root));
CREATE TABLE IF NOT EXISTS accepted (block INTEGER PRIMARY KEY, root BLOB NOT NULL, tx BLOB);
CREATE TABLE IF NOT EXISTS proven (block INTEGER PRIMARY KEY, root BLOB NOT NULL, outputs INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS executed (output INTEGER PRIMARY KEY, tx BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS consensus_cursor (id INTEGER PRIMARY KEY CHECK (id = 0), next_block INTEGER NOT NULL);
";

/// An `inputs` row as read back for replay: index, block, tx, log index, blob, status,
/// exception, root.
type ReplayRow = (
    u64,
    u64,
    Vec<u8>,
    u64,
    Vec<u8>,
    String,
    Option<Vec<u8>>,
    Vec<u8>,
);

/// One stored input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredInput {
    /// Index in the input box.
    pub index: u64,
    /// L1 block.
    pub block: u64,
    /// The transaction that added it.
    pub tx: B256,
    /// Its `InputAdded` log's index in the block.
    pub log_index: u64,
    /// The `EvmAdvance` blob from the `InputAdded` event.
    pub blob: Vec<u8>,
    /// How the DApp finished it.
    pub status: Status,
    /// Its outputs (empty unless accepted).
    pub outputs: Vec<Vec<u8>>,
    /// Its reports.
    pub reports: Vec<Vec<u8>>,
    /// The outputs root after it.
    pub root: B256,
}

/// An accepted `putChunk` input, indexed for blob downloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkRef {
    /// The input that carried it.
    pub input: u64,
    /// sha256 of the whole blob.
    pub digest: B256,
    /// Who sent it (uploads assemble per uploader).
    pub uploader: Address,
    /// Chunk index.
    pub index: u32,
    /// Chunks in the blob.
    pub count: u32,
}

/// A claim the node submitted (or found on chain after a crash).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimRecord {
    /// The epoch's last block (`lastProcessedBlockNumber`).
    pub block: u64,
    /// The outputs root after every input up to `block`.
    pub root: B256,
    /// Outputs in the tree at that point.
    pub outputs: u64,
    /// The `submitClaim` transaction, when known.
    pub tx: Option<B256>,
}

pub use crucible_api::claims::{AcceptedClaim, ChainClaim};

/// An epoch whose root, as this node computed it, the consensus holds valid: the outputs
/// it covers are provable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProvenEpoch {
    /// The epoch's last block.
    pub block: u64,
    /// This node's root, valid on chain.
    pub root: B256,
    /// Outputs in the tree at the end of the epoch.
    pub outputs: u64,
}

/// An input as the query API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputRow {
    /// Index in the input box.
    pub index: u64,
    /// L1 block.
    pub block: u64,
    /// The transaction that added it.
    pub tx: B256,
    /// Its `InputAdded` log's index in the block.
    pub log_index: u64,
    /// The `EvmAdvance` blob.
    pub blob: Vec<u8>,
    /// How the DApp finished it.
    pub status: Status,
    /// Outputs it produced.
    pub outputs: u64,
    /// The outputs root after it.
    pub root: B256,
}

/// An output as the query API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputRow {
    /// Global output index.
    pub index: u64,
    /// The input that produced it.
    pub input: u64,
    /// Its rollup encoding.
    pub bytes: Vec<u8>,
    /// Its 63 siblings against the first proven epoch that covers it, once there is one.
    pub siblings: Option<Vec<B256>>,
}

/// A report as the query API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRow {
    /// Global report index.
    pub index: u64,
    /// The input that produced it.
    pub input: u64,
    /// Its payload.
    pub bytes: Vec<u8>,
}

/// The node's database.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
}

fn sql(e: rusqlite::Error) -> Error {
    Error::Store(e.to_string())
}

const fn status_name(status: &Status) -> &'static str {
    match status {
        Status::Accepted => "accepted",
        Status::Rejected => "rejected",
        Status::Exception(_) => "exception",
    }
}

fn status_from(name: &str, exception: Option<Vec<u8>>) -> Status {
    match name {
        "accepted" => Status::Accepted,
        "rejected" => Status::Rejected,
        _ => Status::Exception(exception.unwrap_or_default()),
    }
}

fn siblings_from(bytes: &[u8]) -> Vec<B256> {
    bytes.chunks_exact(32).map(B256::from_slice).collect()
}

/// The columns [`input_row`] reads, in its order.
const INPUT_COLUMNS: &str = "idx, block, tx, log_index, blob, status, exception, outputs, root";

fn input_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<InputRow> {
    Ok(InputRow {
        index: r.get::<_, i64>(0)? as u64,
        block: r.get::<_, i64>(1)? as u64,
        tx: B256::try_from(r.get::<_, Vec<u8>>(2)?.as_slice()).unwrap_or_default(),
        log_index: r.get::<_, i64>(3)? as u64,
        blob: r.get(4)?,
        status: status_from(&r.get::<_, String>(5)?, r.get(6)?),
        outputs: r.get::<_, i64>(7)? as u64,
        root: B256::from_slice(&r.get::<_, Vec<u8>>(8)?),
    })
}

fn output_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OutputRow> {
    Ok(OutputRow {
        index: r.get::<_, i64>(0)? as u64,
        input: r.get::<_, i64>(1)? as u64,
        bytes: r.get(2)?,
        siblings: r.get::<_, Option<Vec<u8>>>(3)?.map(|b| siblings_from(&b)),
    })
}

fn report_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ReportRow> {
    Ok(ReportRow {
        index: r.get::<_, i64>(0)? as u64,
        input: r.get::<_, i64>(1)? as u64,
        bytes: r.get(2)?,
    })
}

/// The `msg.sender` of an `EvmAdvance` blob (for the sender filter).
fn sender_of(blob: &[u8]) -> Option<Address> {
    crucible_api::EvmAdvance::decode(blob).map(|a| a.sender)
}

/// A block range as SQL parameters (both `NULL` when there is none).
fn range(blocks: Option<(u64, u64)>) -> (Option<i64>, Option<i64>) {
    (blocks.map(|b| int(b.0)), blocks.map(|b| int(b.1)))
}

/// One page of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Rows skipped.
    pub offset: u64,
    /// Rows at most.
    pub limit: u64,
    /// Highest index first.
    pub descending: bool,
}

impl Page {
    const fn order(self) -> &'static str {
        if self.descending { "DESC" } else { "ASC" }
    }
}

/// Which inputs a list shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InputFilter {
    /// Only inputs in these blocks (an epoch's).
    pub blocks: Option<(u64, u64)>,
    /// Only inputs from this sender.
    pub sender: Option<Address>,
}

/// Which outputs a list shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutputFilter {
    /// Only outputs of inputs in these blocks (an epoch's).
    pub blocks: Option<(u64, u64)>,
    /// Only this input's outputs.
    pub input: Option<u64>,
    /// Only outputs with this selector.
    pub kind: Option<[u8; 4]>,
    /// Only vouchers to this destination.
    pub voucher_address: Option<Address>,
}

/// Which reports a list shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReportFilter {
    /// Only reports of inputs in these blocks (an epoch's).
    pub blocks: Option<(u64, u64)>,
    /// Only this input's reports.
    pub input: Option<u64>,
}

/// The inputs of one epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochInputs {
    /// The epoch's index.
    pub epoch: u64,
    /// Its first input.
    pub first_input: u64,
    /// Its last input.
    pub last_input: u64,
    /// The block of its first input.
    pub first_input_block: u64,
    /// The block of its last input.
    pub last_input_block: u64,
}

/// SQLite integers are signed; every index the node stores fits.
const fn int(v: u64) -> i64 {
    v as i64
}

impl Store {
    /// Opens (or creates) the database at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        Self::init(Connection::open(path).map_err(sql)?)
    }

    /// A database in memory (tests).
    pub fn in_memory() -> Result<Self> {
        Self::init(Connection::open_in_memory().map_err(sql)?)
    }

    fn init(conn: Connection) -> Result<Self> {
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;")
            .map_err(sql)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(sql)?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(sql)?;
        if version != 0 && version != SCHEMA_VERSION {
            return Err(Error::Store(format!(
                "database schema {version}, this node writes {SCHEMA_VERSION}: start from a new database (the node rebuilds it from L1)"
            )));
        }
        conn.execute_batch(SCHEMA).map_err(sql)?;
        conn.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))
            .map_err(sql)?;
        Ok(Self { conn })
    }

    /// Writes one processed input (and its chunk entry, if it is an accepted chunk upload)
    /// and moves the block cursor, atomically.
    pub fn record(
        &mut self,
        input: &StoredInput,
        first_output: u64,
        next_block: u64,
        chunk: Option<&ChunkRef>,
    ) -> Result<()> {
        let tx = self.conn.transaction().map_err(sql)?;
        let exception = match &input.status {
            Status::Exception(why) => Some(why.clone()),
            _ => None,
        };
        tx.execute(
            "INSERT INTO inputs (idx, block, tx, log_index, sender, blob, status, exception, first_output, outputs, root) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![int(input.index), int(input.block), input.tx.as_slice(), int(input.log_index), sender_of(&input.blob).map(|a| a.to_vec()), input.blob, status_name(&input.status), exception, int(first_output), input.outputs.len() as i64, input.root.as_slice()],
        )
        .map_err(sql)?;
        for (i, o) in input.outputs.iter().enumerate() {
            tx.execute(
                "INSERT INTO outputs (idx, input_idx, bytes) VALUES (?1, ?2, ?3)",
                params![int(first_output + i as u64), int(input.index), o],
            )
            .map_err(sql)?;
        }
        let first_report: i64 = tx
            .query_row("SELECT COALESCE(MAX(idx) + 1, 0) FROM reports", [], |r| {
                r.get(0)
            })
            .map_err(sql)?;
        for (seq, r) in input.reports.iter().enumerate() {
            tx.execute(
                "INSERT INTO reports (idx, input_idx, bytes) VALUES (?1, ?2, ?3)",
                params![first_report + seq as i64, int(input.index), r],
            )
            .map_err(sql)?;
        }
        if let Some(c) = chunk {
            tx.execute(
                "INSERT INTO chunks (input_idx, digest, uploader, idx, count) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![int(c.input), c.digest.as_slice(), c.uploader.as_slice(), c.index, c.count],
            )
            .map_err(sql)?;
        }
        tx.execute("INSERT INTO cursor (id, next_block) VALUES (0, ?1) ON CONFLICT(id) DO UPDATE SET next_block = excluded.next_block", params![int(next_block)])
            .map_err(sql)?;
        tx.commit().map_err(sql)
    }

    /// Moves the block cursor past blocks that held no input.
    pub fn set_next_block(&mut self, next_block: u64) -> Result<()> {
        self.conn
            .execute("INSERT INTO cursor (id, next_block) VALUES (0, ?1) ON CONFLICT(id) DO UPDATE SET next_block = excluded.next_block", params![int(next_block)])
            .map(|_| ())
            .map_err(sql)
    }

    /// The first block not yet read (0 for a new database).
    pub fn next_block(&self) -> Result<u64> {
        let v: Option<i64> = self
            .conn
            .query_row("SELECT next_block FROM cursor WHERE id = 0", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(sql)?;
        Ok(v.unwrap_or(0) as u64)
    }

    /// Records a claim this node submitted (or found on chain after a crash).
    pub fn record_claim(&mut self, claim: &ClaimRecord) -> Result<()> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO claims (block, root, outputs, tx) VALUES (?1, ?2, ?3, ?4)",
                params![
                    int(claim.block),
                    claim.root.as_slice(),
                    int(claim.outputs),
                    claim.tx.as_ref().map(|t| t.to_vec())
                ],
            )
            .map_err(sql)?;
        Ok(())
    }

    /// Records an epoch whose root the consensus holds valid and the siblings of the
    /// outputs it is the first to cover, atomically.
    pub fn record_proven(
        &mut self,
        epoch: &ProvenEpoch,
        proofs: &[(u64, Vec<B256>)],
    ) -> Result<()> {
        let tx = self.conn.transaction().map_err(sql)?;
        tx.execute(
            "INSERT OR REPLACE INTO proven (block, root, outputs) VALUES (?1, ?2, ?3)",
            params![int(epoch.block), epoch.root.as_slice(), int(epoch.outputs)],
        )
        .map_err(sql)?;
        for (index, siblings) in proofs {
            let bytes: Vec<u8> = siblings.iter().flat_map(|s| s.0).collect();
            tx.execute(
                "UPDATE outputs SET siblings = ?2 WHERE idx = ?1",
                params![int(*index), bytes],
            )
            .map_err(sql)?;
        }
        tx.commit().map_err(sql)
    }

    /// Every proven epoch, oldest first.
    pub fn proven(&self) -> Result<Vec<ProvenEpoch>> {
        let mut stmt = self
            .conn
            .prepare("SELECT block, root, outputs FROM proven ORDER BY block")
            .map_err(sql)?;
        stmt.query_map([], |r| {
            Ok(ProvenEpoch {
                block: r.get::<_, i64>(0)? as u64,
                root: B256::from_slice(&r.get::<_, Vec<u8>>(1)?),
                outputs: r.get::<_, i64>(2)? as u64,
            })
        })
        .map_err(sql)?
        .collect::<Result<_, _>>()
        .map_err(sql)
    }

    /// Records what the consensus logged up to block `next_block - 1` and moves its cursor,
    /// atomically; what is already known is kept once.
    pub fn record_consensus(
        &mut self,
        claims: &[ChainClaim],
        accepted: &[AcceptedClaim],
        executed: &[(u64, B256)],
        next_block: u64,
    ) -> Result<()> {
        let tx = self.conn.transaction().map_err(sql)?;
        for (output, hash) in executed {
            tx.execute(
                "INSERT OR IGNORE INTO executed (output, tx) VALUES (?1, ?2)",
                params![int(*output), hash.as_slice()],
            )
            .map_err(sql)?;
        }
        for c in claims {
            tx.execute(
                "INSERT OR IGNORE INTO chain_claims (block, submitter, root, tx) VALUES (?1, ?2, ?3, ?4)",
                params![
                    int(c.block),
                    c.submitter.as_slice(),
                    c.root.as_slice(),
                    c.tx.as_ref().map(|t| t.to_vec())
                ],
            )
            .map_err(sql)?;
        }
        for a in accepted {
            tx.execute(
                "INSERT OR IGNORE INTO accepted (block, root, tx) VALUES (?1, ?2, ?3)",
                params![
                    int(a.block),
                    a.root.as_slice(),
                    a.tx.as_ref().map(|t| t.to_vec())
                ],
            )
            .map_err(sql)?;
        }
        tx.execute(
            "INSERT INTO consensus_cursor (id, next_block) VALUES (0, ?1) \
             ON CONFLICT (id) DO UPDATE SET next_block = excluded.next_block",
            [int(next_block)],
        )
        .map_err(sql)?;
        tx.commit().map_err(sql)
    }

    /// The transaction that executed output `index`, once the node has seen it on chain.
    pub fn executed(&self, index: u64) -> Result<Option<B256>> {
        self.conn
            .query_row(
                "SELECT tx FROM executed WHERE output = ?1",
                [int(index)],
                |r| r.get::<_, Vec<u8>>(0),
            )
            .optional()
            .map(|t| t.map(|t| B256::try_from(t.as_slice()).unwrap_or_default()))
            .map_err(sql)
    }

    /// The first block of the consensus' logs not yet read (0 for a new database).
    pub fn consensus_next_block(&self) -> Result<u64> {
        let v: Option<i64> = self
            .conn
            .query_row(
                "SELECT next_block FROM consensus_cursor WHERE id = 0",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql)?;
        Ok(v.unwrap_or(0) as u64)
    }

    /// Every claim the consensus logged, by epoch, then submitter.
    pub fn chain_claims(&self) -> Result<Vec<ChainClaim>> {
        let mut stmt = self
            .conn
            .prepare("SELECT block, submitter, root, tx FROM chain_claims ORDER BY block, submitter, root")
            .map_err(sql)?;
        stmt.query_map([], |r| {
            Ok(ChainClaim {
                block: r.get::<_, i64>(0)? as u64,
                submitter: Address::from_slice(&r.get::<_, Vec<u8>>(1)?),
                root: B256::from_slice(&r.get::<_, Vec<u8>>(2)?),
                tx: r
                    .get::<_, Option<Vec<u8>>>(3)?
                    .map(|t| B256::from_slice(&t)),
            })
        })
        .map_err(sql)?
        .collect::<Result<_, _>>()
        .map_err(sql)
    }

    /// Every root the consensus accepted, by epoch.
    pub fn accepted(&self) -> Result<Vec<AcceptedClaim>> {
        let mut stmt = self
            .conn
            .prepare("SELECT block, root, tx FROM accepted ORDER BY block")
            .map_err(sql)?;
        stmt.query_map([], |r| {
            Ok(AcceptedClaim {
                block: r.get::<_, i64>(0)? as u64,
                root: B256::from_slice(&r.get::<_, Vec<u8>>(1)?),
                tx: r
                    .get::<_, Option<Vec<u8>>>(2)?
                    .map(|t| B256::from_slice(&t)),
            })
        })
        .map_err(sql)?
        .collect::<Result<_, _>>()
        .map_err(sql)
    }

    /// The outputs root after the last input at or before `block` (the empty root if none),
    /// and the outputs in the tree then.
    pub fn root_at(&self, block: u64) -> Result<(B256, u64)> {
        let row: Option<(Vec<u8>, i64, i64)> = self
            .conn
            .query_row(
                "SELECT root, first_output, outputs FROM inputs WHERE block <= ?1 ORDER BY idx DESC LIMIT 1",
                [int(block)],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(sql)?;
        Ok(row.map_or(
            (crate::merkle::zero_hashes()[crate::merkle::HEIGHT], 0),
            |(root, first, n)| (B256::from_slice(&root), (first + n) as u64),
        ))
    }

    /// Every claim, oldest first.
    pub fn claims(&self) -> Result<Vec<ClaimRecord>> {
        let mut stmt = self
            .conn
            .prepare("SELECT block, root, outputs, tx FROM claims ORDER BY block")
            .map_err(sql)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(ClaimRecord {
                    block: r.get::<_, i64>(0)? as u64,
                    root: B256::from_slice(&r.get::<_, Vec<u8>>(1)?),
                    outputs: r.get::<_, i64>(2)? as u64,
                    tx: r
                        .get::<_, Option<Vec<u8>>>(3)?
                        .map(|t| B256::from_slice(&t)),
                })
            })
            .map_err(sql)?;
        rows.collect::<Result<_, _>>().map_err(sql)
    }

    /// Every stored input with its outputs and reports, in index order (for replay).
    pub fn inputs(&self) -> Result<Vec<StoredInput>> {
        let mut stmt = self
            .conn
            .prepare("SELECT idx, block, tx, log_index, blob, status, exception, root FROM inputs ORDER BY idx")
            .map_err(sql)?;
        let rows: Vec<ReplayRow> = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)? as u64,
                    r.get::<_, i64>(1)? as u64,
                    r.get(2)?,
                    r.get::<_, i64>(3)? as u64,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                ))
            })
            .map_err(sql)?
            .collect::<Result<_, _>>()
            .map_err(sql)?;
        let mut out_stmt = self
            .conn
            .prepare("SELECT bytes FROM outputs WHERE input_idx = ?1 ORDER BY idx")
            .map_err(sql)?;
        let mut rep_stmt = self
            .conn
            .prepare("SELECT bytes FROM reports WHERE input_idx = ?1 ORDER BY idx")
            .map_err(sql)?;
        let mut inputs = Vec::with_capacity(rows.len());
        for (index, block, tx, log_index, blob, status, exception, root) in rows {
            let outputs = out_stmt
                .query_map([int(index)], |r| r.get(0))
                .map_err(sql)?
                .collect::<Result<_, _>>()
                .map_err(sql)?;
            let reports = rep_stmt
                .query_map([int(index)], |r| r.get(0))
                .map_err(sql)?
                .collect::<Result<_, _>>()
                .map_err(sql)?;
            inputs.push(StoredInput {
                index,
                block,
                tx: B256::try_from(tx.as_slice()).unwrap_or_default(),
                log_index,
                blob,
                status: status_from(&status, exception),
                outputs,
                reports,
                root: B256::from_slice(&root),
            });
        }
        Ok(inputs)
    }

    /// Inputs processed so far.
    pub fn input_count(&self) -> Result<u64> {
        let n: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM inputs", [], |r| r.get(0))
            .map_err(sql)?;
        Ok(n as u64)
    }

    /// The inputs that match `filter`, one page of them in index order, and how many match.
    pub fn list_inputs(&self, filter: &InputFilter, page: Page) -> Result<(Vec<InputRow>, u64)> {
        const WHERE: &str =
            "WHERE (?1 IS NULL OR block BETWEEN ?1 AND ?2) AND (?3 IS NULL OR sender = ?3)";
        let (first, last) = range(filter.blocks);
        let sender = filter.sender.map(|a| a.to_vec());
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {INPUT_COLUMNS} FROM inputs {WHERE} ORDER BY idx {} LIMIT ?4 OFFSET ?5",
                page.order()
            ))
            .map_err(sql)?;
        let rows = stmt
            .query_map(
                params![first, last, sender, int(page.limit), int(page.offset)],
                input_row,
            )
            .map_err(sql)?
            .collect::<Result<_, _>>()
            .map_err(sql)?;
        let total: i64 = self
            .conn
            .query_row(
                &format!("SELECT COUNT(*) FROM inputs {WHERE}"),
                params![first, last, sender],
                |r| r.get(0),
            )
            .map_err(sql)?;
        Ok((rows, total as u64))
    }

    /// Input `index`, if processed.
    pub fn input(&self, index: u64) -> Result<Option<InputRow>> {
        self.conn
            .query_row(
                &format!("SELECT {INPUT_COLUMNS} FROM inputs WHERE idx = ?1"),
                [int(index)],
                input_row,
            )
            .optional()
            .map_err(sql)
    }

    /// The outputs that match `filter`, one page of them in index order, and how many match.
    pub fn list_outputs(&self, filter: &OutputFilter, page: Page) -> Result<(Vec<OutputRow>, u64)> {
        // A voucher's destination is its first argument: bytes 16..36 of its calldata.
        const WHERE: &str = "WHERE (?1 IS NULL OR input_idx IN (SELECT idx FROM inputs WHERE block BETWEEN ?1 AND ?2)) \
            AND (?3 IS NULL OR input_idx = ?3) AND (?4 IS NULL OR substr(bytes, 1, 4) = ?4) \
            AND (?5 IS NULL OR (substr(bytes, 1, 4) IN (?6, ?7) AND substr(bytes, 17, 20) = ?5))";
        let (first, last) = range(filter.blocks);
        let args = params![
            first,
            last,
            filter.input.map(int),
            filter.kind.map(|k| k.to_vec()),
            filter.voucher_address.map(|a| a.to_vec()),
            VOUCHER.to_vec(),
            DELEGATE_CALL_VOUCHER.to_vec(),
        ];
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT idx, input_idx, bytes, siblings FROM outputs {WHERE} ORDER BY idx {} LIMIT ?8 OFFSET ?9", page.order()))
            .map_err(sql)?;
        let mut all: Vec<&dyn rusqlite::ToSql> = args.to_vec();
        let (limit, offset) = (int(page.limit), int(page.offset));
        all.extend([&limit as &dyn rusqlite::ToSql, &offset]);
        let rows = stmt
            .query_map(all.as_slice(), output_row)
            .map_err(sql)?
            .collect::<Result<_, _>>()
            .map_err(sql)?;
        let total: i64 = self
            .conn
            .query_row(
                &format!("SELECT COUNT(*) FROM outputs {WHERE}"),
                args,
                |r| r.get(0),
            )
            .map_err(sql)?;
        Ok((rows, total as u64))
    }

    /// Output `index`, if any.
    pub fn output(&self, index: u64) -> Result<Option<OutputRow>> {
        self.conn
            .query_row(
                "SELECT idx, input_idx, bytes, siblings FROM outputs WHERE idx = ?1",
                [int(index)],
                output_row,
            )
            .optional()
            .map_err(sql)
    }

    /// The reports that match `filter`, one page of them in index order, and how many match.
    pub fn list_reports(&self, filter: &ReportFilter, page: Page) -> Result<(Vec<ReportRow>, u64)> {
        const WHERE: &str = "WHERE (?1 IS NULL OR input_idx IN (SELECT idx FROM inputs WHERE block BETWEEN ?1 AND ?2)) \
            AND (?3 IS NULL OR input_idx = ?3)";
        let (first, last) = range(filter.blocks);
        let input = filter.input.map(int);
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT idx, input_idx, bytes FROM reports {WHERE} ORDER BY idx {} LIMIT ?4 OFFSET ?5", page.order()))
            .map_err(sql)?;
        let rows = stmt
            .query_map(
                params![first, last, input, int(page.limit), int(page.offset)],
                report_row,
            )
            .map_err(sql)?
            .collect::<Result<_, _>>()
            .map_err(sql)?;
        let total: i64 = self
            .conn
            .query_row(
                &format!("SELECT COUNT(*) FROM reports {WHERE}"),
                params![first, last, input],
                |r| r.get(0),
            )
            .map_err(sql)?;
        Ok((rows, total as u64))
    }

    /// Report `index`, if any.
    pub fn report(&self, index: u64) -> Result<Option<ReportRow>> {
        self.conn
            .query_row(
                "SELECT idx, input_idx, bytes FROM reports WHERE idx = ?1",
                [int(index)],
                report_row,
            )
            .optional()
            .map_err(sql)
    }

    /// First and last input index and first and last block of every epoch of
    /// `epoch_length` blocks that holds inputs, oldest first.
    pub fn epoch_inputs(&self, epoch_length: u64) -> Result<Vec<EpochInputs>> {
        let mut stmt = self
            .conn
            .prepare("SELECT block / ?1, MIN(idx), MAX(idx), MIN(block), MAX(block) FROM inputs GROUP BY 1 ORDER BY 1")
            .map_err(sql)?;
        stmt.query_map([int(epoch_length.max(1))], |r| {
            Ok(EpochInputs {
                epoch: r.get::<_, i64>(0)? as u64,
                first_input: r.get::<_, i64>(1)? as u64,
                last_input: r.get::<_, i64>(2)? as u64,
                first_input_block: r.get::<_, i64>(3)? as u64,
                last_input_block: r.get::<_, i64>(4)? as u64,
            })
        })
        .map_err(sql)?
        .collect::<Result<_, _>>()
        .map_err(sql)
    }

    /// Every accepted chunk of the blob with sha256 `digest`, with the input that carried it,
    /// in input order.
    pub fn chunks(&self, digest: &B256) -> Result<Vec<(ChunkRef, Vec<u8>)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT c.input_idx, c.uploader, c.idx, c.count, i.blob FROM chunks c JOIN inputs i ON i.idx = c.input_idx WHERE c.digest = ?1 ORDER BY c.input_idx")
            .map_err(sql)?;
        stmt.query_map([digest.as_slice()], |r| {
            Ok((
                ChunkRef {
                    input: r.get::<_, i64>(0)? as u64,
                    digest: *digest,
                    uploader: Address::from_slice(&r.get::<_, Vec<u8>>(1)?),
                    index: r.get(2)?,
                    count: r.get(3)?,
                },
                r.get(4)?,
            ))
        })
        .map_err(sql)?
        .collect::<Result<_, _>>()
        .map_err(sql)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_outputs_reports_and_the_cursor_round_trip() {
        let mut store = Store::in_memory().unwrap();
        assert_eq!(
            (store.next_block().unwrap(), store.inputs().unwrap().len()),
            (0, 0)
        );
        let accepted = StoredInput {
            index: 0,
            block: 7,
            tx: B256::repeat_byte(7),
            log_index: 0,
            blob: vec![1, 2],
            status: Status::Accepted,
            outputs: vec![vec![9], vec![8, 8]],
            reports: vec![b"r".to_vec()],
            root: B256::repeat_byte(1),
        };
        let rejected = StoredInput {
            index: 1,
            block: 9,
            tx: B256::repeat_byte(9),
            log_index: 4,
            blob: vec![3],
            status: Status::Rejected,
            outputs: vec![],
            reports: vec![b"no".to_vec()],
            root: B256::repeat_byte(1),
        };
        let chunk = ChunkRef {
            input: 0,
            digest: B256::repeat_byte(5),
            uploader: Address::repeat_byte(6),
            index: 0,
            count: 1,
        };
        store.record(&accepted, 0, 7, Some(&chunk)).unwrap();
        store.record(&rejected, 2, 9, None).unwrap();
        store.set_next_block(12).unwrap();
        let claim = ClaimRecord {
            block: 11,
            root: B256::repeat_byte(2),
            outputs: 2,
            tx: Some(B256::repeat_byte(3)),
        };
        let siblings = vec![B256::repeat_byte(4); 63];
        store.record_claim(&claim).unwrap();
        let proven = ProvenEpoch {
            block: 11,
            root: claim.root,
            outputs: 2,
        };
        store
            .record_proven(&proven, &[(1, siblings.clone())])
            .unwrap();
        assert_eq!(store.inputs().unwrap(), vec![accepted.clone(), rejected]);
        assert_eq!(store.next_block().unwrap(), 12);
        assert_eq!(store.claims().unwrap(), vec![claim]);
        assert_eq!(store.proven().unwrap(), vec![proven]);
        // The root after the last input at or before a block, with the outputs then.
        assert_eq!(store.root_at(8).unwrap(), (accepted.root, 2));
        assert_eq!(store.root_at(6).unwrap().1, 0);

        // What the consensus logged: kept once, whatever is read again.
        let seen = ChainClaim {
            block: 11,
            submitter: Address::repeat_byte(7),
            root: B256::repeat_byte(8),
            tx: None,
        };
        let ok = AcceptedClaim {
            block: 11,
            root: B256::repeat_byte(8),
            tx: Some(B256::repeat_byte(9)),
        };
        let executed = (1, B256::repeat_byte(0xe0));
        store
            .record_consensus(&[seen], &[ok], &[executed], 20)
            .unwrap();
        store
            .record_consensus(&[seen], &[ok], &[executed], 21)
            .unwrap();
        assert_eq!(store.executed(1).unwrap(), Some(executed.1));
        assert_eq!(store.executed(0).unwrap(), None);
        assert_eq!(store.chain_claims().unwrap(), vec![seen]);
        assert_eq!(store.accepted().unwrap(), vec![ok]);
        assert_eq!(store.consensus_next_block().unwrap(), 21);
        // The same input index twice is refused, and nothing of it is written.
        assert!(store.record(&accepted, 2, 13, None).is_err());
        assert_eq!(store.next_block().unwrap(), 12);

        // What the query API reads.
        assert_eq!(store.input_count().unwrap(), 2);
        let page = |offset| Page {
            offset,
            limit: 10,
            descending: false,
        };
        let (inputs, total) = store.list_inputs(&InputFilter::default(), page(1)).unwrap();
        assert_eq!(
            (inputs.len(), total, inputs[0].status.clone()),
            (1, 2, Status::Rejected)
        );
        assert_eq!(
            (inputs[0].tx, inputs[0].log_index),
            (B256::repeat_byte(9), 4)
        );

        assert_eq!(store.input(0).unwrap().unwrap().outputs, 2);
        assert!(store.input(2).unwrap().is_none());
        let (outputs, total) = store
            .list_outputs(
                &OutputFilter {
                    input: Some(0),
                    ..Default::default()
                },
                page(0),
            )
            .unwrap();
        assert_eq!((outputs.len(), total), (2, 2));
        assert_eq!(outputs[0].siblings, None);
        assert_eq!(store.output(1).unwrap().unwrap().siblings, Some(siblings));
        assert!(store.output(2).unwrap().is_none());
        let (reports, total) = store
            .list_reports(&ReportFilter::default(), page(0))
            .unwrap();
        assert_eq!(
            (reports[1].index, reports[1].input, total),
            (1, 1, 2),
            "report indices are global"
        );
        assert_eq!(store.report(1).unwrap().unwrap().bytes, b"no");
        let chunks = store.chunks(&chunk.digest).unwrap();
        assert_eq!(chunks, vec![(chunk, vec![1, 2])]);
        assert!(store.chunks(&B256::ZERO).unwrap().is_empty());
    }
}
