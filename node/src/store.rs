//! SQLite persistence of everything the node learnt: each input's raw `EvmAdvance` blob,
//! how the DApp finished it, its outputs and reports, the outputs root after it, the
//! claims, and the last block read. An input, its outputs, its reports and the block
//! cursor are written in one transaction, so a crash never leaves half an input behind.

use crate::{Error, Result, rollup_api::Status};
use alloy::primitives::B256;
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;

/// Schema version written to `PRAGMA user_version`.
pub const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS inputs (
    idx INTEGER PRIMARY KEY,
    block INTEGER NOT NULL,
    blob BLOB NOT NULL,
    status TEXT NOT NULL,
    exception BLOB,
    first_output INTEGER NOT NULL,
    outputs INTEGER NOT NULL,
    root BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS outputs (idx INTEGER PRIMARY KEY, input_idx INTEGER NOT NULL, bytes BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS reports (input_idx INTEGER NOT NULL, seq INTEGER NOT NULL, bytes BLOB NOT NULL, PRIMARY KEY (input_idx, seq));
CREATE TABLE IF NOT EXISTS claims (block INTEGER PRIMARY KEY, root BLOB NOT NULL, outputs INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS cursor (id INTEGER PRIMARY KEY CHECK (id = 0), next_block INTEGER NOT NULL);
";

/// An `inputs` row: index, block, blob, status, exception, root.
type InputRow = (u64, u64, Vec<u8>, String, Option<Vec<u8>>, Vec<u8>);

/// One stored input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredInput {
    /// Index in the input box.
    pub index: u64,
    /// L1 block.
    pub block: u64,
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

/// The node's database.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
}

fn sql(e: rusqlite::Error) -> Error {
    Error::Store(e.to_string())
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
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(sql)?;
        if version != 0 && version != SCHEMA_VERSION {
            return Err(Error::Store(format!(
                "database schema {version}, this node writes {SCHEMA_VERSION}"
            )));
        }
        conn.execute_batch(SCHEMA).map_err(sql)?;
        conn.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))
            .map_err(sql)?;
        Ok(Self { conn })
    }

    /// Writes one processed input and moves the block cursor, atomically.
    pub fn record(
        &mut self,
        input: &StoredInput,
        first_output: u64,
        next_block: u64,
    ) -> Result<()> {
        let tx = self.conn.transaction().map_err(sql)?;
        let (status, exception) = match &input.status {
            Status::Accepted => ("accepted", None),
            Status::Rejected => ("rejected", None),
            Status::Exception(why) => ("exception", Some(why.clone())),
        };
        tx.execute(
            "INSERT INTO inputs (idx, block, blob, status, exception, first_output, outputs, root) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![input.index as i64, input.block as i64, input.blob, status, exception, first_output as i64, input.outputs.len() as i64, input.root.as_slice()],
        )
        .map_err(sql)?;
        for (i, o) in input.outputs.iter().enumerate() {
            tx.execute(
                "INSERT INTO outputs (idx, input_idx, bytes) VALUES (?1, ?2, ?3)",
                params![(first_output + i as u64) as i64, input.index as i64, o],
            )
            .map_err(sql)?;
        }
        for (seq, r) in input.reports.iter().enumerate() {
            tx.execute(
                "INSERT INTO reports (input_idx, seq, bytes) VALUES (?1, ?2, ?3)",
                params![input.index as i64, seq as i64, r],
            )
            .map_err(sql)?;
        }
        tx.execute("INSERT INTO cursor (id, next_block) VALUES (0, ?1) ON CONFLICT(id) DO UPDATE SET next_block = excluded.next_block", params![next_block as i64])
            .map_err(sql)?;
        tx.commit().map_err(sql)
    }

    /// Moves the block cursor past blocks that held no input.
    pub fn set_next_block(&mut self, next_block: u64) -> Result<()> {
        self.conn
            .execute("INSERT INTO cursor (id, next_block) VALUES (0, ?1) ON CONFLICT(id) DO UPDATE SET next_block = excluded.next_block", params![next_block as i64])
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

    /// Records a claim.
    pub fn record_claim(&self, block: u64, root: B256, outputs: u64) -> Result<()> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO claims (block, root, outputs) VALUES (?1, ?2, ?3)",
                params![block as i64, root.as_slice(), outputs as i64],
            )
            .map(|_| ())
            .map_err(sql)
    }

    /// Every claim, oldest first: (block, root, outputs).
    pub fn claims(&self) -> Result<Vec<(u64, B256, u64)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT block, root, outputs FROM claims ORDER BY block")
            .map_err(sql)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)? as u64,
                    B256::from_slice(&r.get::<_, Vec<u8>>(1)?),
                    r.get::<_, i64>(2)? as u64,
                ))
            })
            .map_err(sql)?;
        rows.collect::<Result<_, _>>().map_err(sql)
    }

    /// Every stored input with its outputs and reports, in index order.
    pub fn inputs(&self) -> Result<Vec<StoredInput>> {
        let mut stmt = self
            .conn
            .prepare("SELECT idx, block, blob, status, exception, root FROM inputs ORDER BY idx")
            .map_err(sql)?;
        let rows: Vec<InputRow> = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)? as u64,
                    r.get::<_, i64>(1)? as u64,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
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
            .prepare("SELECT bytes FROM reports WHERE input_idx = ?1 ORDER BY seq")
            .map_err(sql)?;
        let mut inputs = Vec::with_capacity(rows.len());
        for (index, block, blob, status, exception, root) in rows {
            let status = match status.as_str() {
                "accepted" => Status::Accepted,
                "rejected" => Status::Rejected,
                _ => Status::Exception(exception.unwrap_or_default()),
            };
            let outputs = out_stmt
                .query_map([index as i64], |r| r.get(0))
                .map_err(sql)?
                .collect::<Result<_, _>>()
                .map_err(sql)?;
            let reports = rep_stmt
                .query_map([index as i64], |r| r.get(0))
                .map_err(sql)?
                .collect::<Result<_, _>>()
                .map_err(sql)?;
            inputs.push(StoredInput {
                index,
                block,
                blob,
                status,
                outputs,
                reports,
                root: B256::from_slice(&root),
            });
        }
        Ok(inputs)
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
            blob: vec![1, 2],
            status: Status::Accepted,
            outputs: vec![vec![9], vec![8, 8]],
            reports: vec![b"r".to_vec()],
            root: B256::repeat_byte(1),
        };
        let rejected = StoredInput {
            index: 1,
            block: 9,
            blob: vec![3],
            status: Status::Rejected,
            outputs: vec![],
            reports: vec![b"no".to_vec()],
            root: B256::repeat_byte(1),
        };
        store.record(&accepted, 0, 7).unwrap();
        store.record(&rejected, 2, 9).unwrap();
        store.set_next_block(12).unwrap();
        store.record_claim(11, B256::repeat_byte(2), 2).unwrap();
        assert_eq!(store.inputs().unwrap(), vec![accepted.clone(), rejected]);
        assert_eq!(store.next_block().unwrap(), 12);
        assert_eq!(store.claims().unwrap(), vec![(11, B256::repeat_byte(2), 2)]);
        // The same input index twice is refused, and nothing of it is written.
        assert!(store.record(&accepted, 2, 13).is_err());
        assert_eq!(store.next_block().unwrap(), 12);
    }
}
