//! The blob store: chunked uploads, the storage quotas, the test-set reservations and
//! the freeing of blobs no open competition uses.
//!
//! **Accounting.** `used` counts every stored blob and every pending chunk. A competition
//! with a hidden test set reserves its declared size from creation until the reveal (or its
//! finalize, or the reveal deadline); the reservation is consumed by its sponsor's pending
//! chunks, so a sponsor's upload of the test set always fits however full the store is.
//! Everyone else's chunk must fit `max_stored_bytes − used − reserved`, where `reserved` is
//! the part of the reservations not yet consumed. Every address also has a quota of pending
//! and stored bytes of its own.
//!
//! **Expiry.** A pending upload expires [`crate::Config::upload_ttl`] seconds (block time)
//! after its last chunk; expired uploads are dropped, oldest first, by the next `putChunk`.
//! A stored blob that no open competition references can be released by its uploader at any
//! time and by anyone once it is [`crate::Config::blob_ttl`] seconds old.

use crate::{
    Output, Rejection,
    outputs::{Applied, Fail, Map, Set, notice},
    state::Config,
};
use alloy_primitives::{Address, B256};
use crucible_types::{
    AdvanceMeta, Cid,
    abi::{ICrucible, ICrucibleOutputs},
};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// A stored, sha256-verified blob.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Blob {
    #[serde(skip)]
    pub(crate) bytes: Arc<[u8]>,
    pub(crate) size: u64,
    pub(crate) uploader: Address,
    pub(crate) input_index: u64,
    /// Block time of the input that completed it.
    pub(crate) stored_at: u64,
}

/// Chunks of one blob from one uploader.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Upload {
    pub(crate) count: u32,
    pub(crate) bytes: u64,
    /// Block time of the last chunk accepted.
    pub(crate) touched: u64,
    #[serde(serialize_with = "chunk_digests")]
    pub(crate) chunks: Map<u32, Arc<[u8]>>,
}

fn chunk_digests<S: serde::Serializer>(
    chunks: &Map<u32, Arc<[u8]>>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.collect_map(
        chunks
            .iter()
            .map(|(i, c)| (i, B256::from(<[u8; 32]>::from(Sha256::digest(c))))),
    )
}

/// Storage held for a competition's hidden test set.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Reservation {
    pub(crate) sponsor: Address,
    pub(crate) bytes: u64,
}

/// Every blob, upload, quota and reservation.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Store {
    pub(crate) blobs: Map<Cid, Blob>,
    #[serde(serialize_with = "crate::outputs::entries")]
    uploads: Map<(Address, B256), Upload>,
    /// Pending uploads by (last chunk's block time, uploader, digest): expiry order.
    by_age: Set<(u64, Address, B256)>,
    /// Stored and pending bytes.
    pub(crate) used: u64,
    /// Stored and pending bytes of each address.
    held: Map<Address, u64>,
    /// Pending bytes of each address.
    pending: Map<Address, u64>,
    /// Open reservations by (reveal deadline, competition id).
    #[serde(serialize_with = "crate::outputs::entries")]
    reservations: Map<(u64, u64), Reservation>,
    /// Reserved bytes of each sponsor.
    reserved_by: Map<Address, u64>,
    /// Competitions that reference each blob.
    refs: Map<Cid, u32>,
}

fn add(map: &mut Map<Address, u64>, who: Address, bytes: u64) {
    *map.entry(who).or_default() += bytes;
}

fn sub(map: &mut Map<Address, u64>, who: Address, bytes: u64) {
    if let Some(v) = map.get_mut(&who) {
        *v = v.saturating_sub(bytes);
        if *v == 0 {
            map.remove(&who);
        }
    }
}

impl Store {
    fn get(map: &Map<Address, u64>, who: Address) -> u64 {
        map.get(&who).copied().unwrap_or(0)
    }

    /// Reserved bytes that `who`'s pending chunks have not consumed.
    fn unconsumed(&self, who: Address) -> u64 {
        Self::get(&self.reserved_by, who).saturating_sub(Self::get(&self.pending, who))
    }

    /// Reserved bytes not yet consumed, over all sponsors.
    pub(crate) fn reserved(&self) -> u64 {
        self.reserved_by.keys().map(|&s| self.unconsumed(s)).sum()
    }

    /// Bytes a new chunk from `who` may take: the store less everything used and less what
    /// other sponsors have reserved; `who`'s own reservation is available to it.
    fn room_for(&self, cfg: &Config, who: Address) -> u64 {
        let others = self.reserved() - self.unconsumed(who);
        cfg.max_stored_bytes
            .saturating_sub(self.used)
            .saturating_sub(others)
    }

    /// Drops pending uploads and reservations whose time is up.
    fn expire(&mut self, cfg: &Config, now: u64) {
        while let Some(&(touched, who, digest)) = self.by_age.get_min() {
            if touched.saturating_add(cfg.upload_ttl) > now {
                break;
            }
            self.by_age.remove(&(touched, who, digest));
            if let Some(up) = self.uploads.remove(&(who, digest)) {
                self.used -= up.bytes;
                sub(&mut self.held, who, up.bytes);
                sub(&mut self.pending, who, up.bytes);
            }
        }
        while let Some(&((until, id), _)) = self.reservations.get_min() {
            if until > now {
                break;
            }
            self.end_reservation(until, id);
        }
    }

    /// Reserves `bytes` for the test set of competition `id`, open until `until`.
    pub(crate) fn reserve(
        &mut self,
        cfg: &Config,
        now: u64,
        id: u64,
        until: u64,
        sponsor: Address,
        bytes: u64,
    ) -> Result<(), String> {
        self.expire(cfg, now);
        if bytes > cfg.max_blob_bytes {
            return Err(format!(
                "testSetBytes {bytes} is above the {}-byte blob limit",
                cfg.max_blob_bytes
            ));
        }
        let mine = Self::get(&self.held, sponsor) + Self::get(&self.reserved_by, sponsor);
        if mine + bytes > cfg.max_bytes_per_sender {
            return Err(format!(
                "reserving {bytes} bytes for the test set would take the sponsor's stored, pending and reserved bytes ({mine}) over the {}-byte quota per address",
                cfg.max_bytes_per_sender
            ));
        }
        let free = self.room_for(cfg, sponsor) - self.unconsumed(sponsor);
        if bytes > free {
            return Err(format!(
                "the application's storage has {free} bytes free, not the {bytes} the test set needs"
            ));
        }
        self.reservations
            .insert((until, id), Reservation { sponsor, bytes });
        add(&mut self.reserved_by, sponsor, bytes);
        Ok(())
    }

    /// Ends competition `id`'s reservation, if it still has one.
    pub(crate) fn end_reservation(&mut self, until: u64, id: u64) {
        if let Some(r) = self.reservations.remove(&(until, id)) {
            sub(&mut self.reserved_by, r.sponsor, r.bytes);
        }
    }

    /// Counts one more open competition that needs `cid`.
    pub(crate) fn acquire(&mut self, cid: Cid) {
        *self.refs.entry(cid).or_default() += 1;
    }

    /// Counts one open competition fewer that needs `cid`.
    pub(crate) fn release_ref(&mut self, cid: Cid) {
        if let Some(n) = self.refs.get_mut(&cid) {
            *n -= 1;
            if *n == 0 {
                self.refs.remove(&cid);
            }
        }
    }

    /// Open competitions that need `cid`.
    pub(crate) fn refs(&self, cid: &Cid) -> u32 {
        self.refs.get(cid).copied().unwrap_or(0)
    }

    pub(crate) fn put_chunk(
        &mut self,
        cfg: &Config,
        meta: &AdvanceMeta,
        c: ICrucible::putChunkCall,
        out: &mut Vec<Output>,
    ) -> Applied {
        let reject = |why: String| -> Fail { Rejection::Chunk(why).into() };
        if c.count == 0 || c.count > cfg.max_chunks {
            return Err(reject(format!(
                "count {} must be in 1..={}",
                c.count, cfg.max_chunks
            )));
        }
        if c.index >= c.count {
            return Err(reject(format!(
                "index {} is not below count {}",
                c.index, c.count
            )));
        }
        if c.data.is_empty() || c.data.len() > cfg.max_chunk_bytes {
            return Err(reject(format!(
                "data is {} bytes, must be 1..={}",
                c.data.len(),
                cfg.max_chunk_bytes
            )));
        }
        let cid = Cid::from_digest(c.sha256Digest.0);
        if self.blobs.contains_key(&cid) {
            return Err(reject(format!("blob {cid} is already stored")));
        }
        let now = meta.block_timestamp;
        self.expire(cfg, now);
        let uploader = meta.msg_sender;
        let key = (uploader, c.sha256Digest);
        let upload = self.uploads.get(&key).cloned().unwrap_or_default();
        if upload.count != 0 && upload.count != c.count {
            return Err(reject(format!(
                "this upload of {cid} was started with count {}, not {}",
                upload.count, c.count
            )));
        }
        let replaced = upload
            .chunks
            .get(&c.index)
            .map_or(0, |old| old.len() as u64);
        let added = c.data.len() as u64;
        let size = upload.bytes - replaced + added;
        if size > cfg.max_blob_bytes {
            return Err(reject(format!(
                "blob {cid} would exceed the {}-byte blob limit",
                cfg.max_blob_bytes
            )));
        }
        let held = Self::get(&self.held, uploader) - replaced + added;
        if held > cfg.max_bytes_per_sender {
            return Err(reject(format!(
                "{uploader} would hold {held} stored and pending bytes, above the {}-byte quota per address: release a blob or let a pending upload expire",
                cfg.max_bytes_per_sender
            )));
        }
        if added > replaced && added - replaced > self.room_for(cfg, uploader) {
            return Err(reject(format!(
                "the application's {}-byte storage is full ({} used, {} reserved for test sets)",
                cfg.max_stored_bytes,
                self.used,
                self.reserved()
            )));
        }
        self.used = self.used - replaced + added;
        add(&mut self.held, uploader, added);
        sub(&mut self.held, uploader, replaced);
        add(&mut self.pending, uploader, added);
        sub(&mut self.pending, uploader, replaced);
        if upload.count != 0 {
            self.by_age
                .remove(&(upload.touched, uploader, c.sha256Digest));
        }
        let mut upload = upload;
        upload.count = c.count;
        upload.bytes = size;
        upload.touched = now;
        upload.chunks.insert(c.index, Arc::from(c.data.as_ref()));
        if upload.chunks.len() < c.count as usize {
            self.by_age.insert((now, uploader, c.sha256Digest));
            self.uploads.insert(key, upload);
            return Ok(());
        }
        let mut bytes = Vec::with_capacity(size as usize);
        for chunk in upload.chunks.values() {
            bytes.extend_from_slice(chunk);
        }
        let actual = Cid::of(&bytes);
        if actual != cid {
            return Err(reject(format!(
                "the {} chunks hash to {actual}, not {cid}: resend the chunk that is wrong",
                c.count
            )));
        }
        self.uploads.remove(&key);
        sub(&mut self.pending, uploader, size);
        self.blobs.insert(
            cid,
            Blob {
                bytes: bytes.into(),
                size,
                uploader,
                input_index: meta.input_index,
                stored_at: now,
            },
        );
        out.push(notice(ICrucibleOutputs::BlobStoredCall {
            cid: cid.to_bytes().into(),
            size,
            uploader,
        }));
        Ok(())
    }

    pub(crate) fn release(
        &mut self,
        cfg: &Config,
        meta: &AdvanceMeta,
        cid: Cid,
        out: &mut Vec<Output>,
    ) -> Applied {
        let reject = |why: String| -> Fail { Rejection::Release { cid, why }.into() };
        let Some(blob) = self.blobs.get(&cid) else {
            return Err(reject("it is not stored".into()));
        };
        let refs = self.refs(&cid);
        if refs > 0 {
            return Err(reject(format!(
                "{refs} open competition(s) use it; it can be released once they are finalized"
            )));
        }
        let now = meta.block_timestamp;
        let free_at = blob.stored_at.saturating_add(cfg.blob_ttl);
        if meta.msg_sender != blob.uploader && now < free_at {
            return Err(reject(format!(
                "only its uploader {} may release it before {free_at} (now {now})",
                blob.uploader
            )));
        }
        let (size, uploader) = (blob.size, blob.uploader);
        self.blobs.remove(&cid);
        self.used -= size;
        sub(&mut self.held, uploader, size);
        out.push(notice(ICrucibleOutputs::BlobReleasedCall {
            cid: cid.to_bytes().into(),
            size,
            releasedBy: meta.msg_sender,
        }));
        Ok(())
    }
}
