//! Backups: a cut of every Raft group's replicated state as a versioned, checksummed file, and
//! the seeding of a new cluster's store from such a file.
//!
//! Layout (integers big-endian):
//!
//! ```text
//! "SVEABKP"  version u32  total_len u64  preamble_check [8]   (27 bytes: the preamble)
//! meta_len u32  meta (codec-encoded BackupMeta)
//! version 2, one section per entry of meta.groups, in that order:
//!     group u16  term u64  index u64  pairs u64               (26 bytes: the section's head)
//!     pairs times: key_len u32  key  value_len u32  value
//! version 1 (one group, read as group 0): meta.pairs times: key_len u32  key  value_len u32  value
//! SHA-256 of every byte before it                           (32 bytes)
//! ```
//!
//! `preamble_check` is the first 8 bytes of the SHA-256 of the 19 bytes before it, so a damaged
//! length is told apart from a short file: a file shorter than `total_len` is truncated, a wrong
//! check or digest is corruption, a file without the magic is not a svea backup at all. A reader
//! verifies everything in one streaming pass before it believes any length inside. A section's
//! head repeats its entry of the metadata, and the reader refuses a body that disagrees with it.
//!
//! The body holds each group's state machine data keys only (owners, states, secondary and
//! cluster records), not its Raft meta keys: a restored cluster gets fresh membership. Each
//! group's cut is the state after exactly one of its entries; the cuts of different groups are
//! not one instant (see `ClusterNode::backup_cut` in `svea-cluster`).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::Path;

use openraft::{CommittedLeaderId, LogId, Membership};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::codec::{decode, encode};
use crate::engine::{Engine, SledEngine};
use crate::error::Error;
use crate::types::{RaftNodeId, SveaNode};
use crate::{GroupId, GROUPS_MAX};

/// The first bytes of every backup file.
pub const MAGIC: &[u8; 7] = b"SVEABKP";
/// The file format this build writes: a section per Raft group. It reads every version from
/// [`VERSION_ONE_GROUP`] on.
pub const VERSION: u32 = 2;
/// The first file format: one Raft group's state, without sections. Read as group 0.
pub const VERSION_ONE_GROUP: u32 = 1;
/// Magic, version, total length and the preamble's own check.
pub const PREAMBLE_BYTES: usize = 7 + 4 + 8 + 8;
/// A section's head: group, term, index and pair count.
pub const SECTION_HEAD_BYTES: usize = 2 + 8 + 8 + 8;
/// The SHA-256 digest at the end.
pub const DIGEST_BYTES: usize = 32;
/// The largest metadata block a reader accepts (it is a few hundred bytes).
pub const META_BYTES_MAX: u32 = 64 * 1024;
/// Bytes the encoder puts in one chunk (the HTTP body is streamed in chunks of about this size).
pub const CHUNK_BYTES: usize = 64 * 1024;
/// Buffer of the verifying reader.
const READ_BUF_BYTES: usize = 64 * 1024;

/// What a backup says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupMeta {
    /// The source cluster's name (`cluster.name`; clusters have no other identity).
    pub cluster: String,
    /// The store format ([`crate::FORMAT`]) the body's values are encoded in.
    pub storage_format: u32,
    /// When the cut was taken, Unix milliseconds (the source node's clock).
    pub created_at_ms: i64,
    /// The node that took it.
    pub node: RaftNodeId,
    /// Each Raft group's cut, by ascending group id, each group once: the order of the body's
    /// sections. Set by [`Encoder::new`] from what it encodes; a version-1 file reads as one
    /// entry, group 0.
    pub groups: Vec<GroupCut>,
}

impl BackupMeta {
    /// Key-value pairs in the body, over every group.
    pub fn pairs(&self) -> u64 {
        self.groups.iter().map(|g| g.pairs).sum()
    }

    /// Group `group`'s cut, if the backup holds that group.
    pub fn group(&self, group: GroupId) -> Option<&GroupCut> {
        self.groups.iter().find(|g| g.group == group)
    }
}

/// What a backup says about one Raft group's cut (its section).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupCut {
    /// The group (its trees in a store: [`crate::tree_name`]).
    pub group: GroupId,
    /// Term of the group's last entry in the cut (0 when the group had applied nothing).
    pub term: u64,
    /// Index of the group's last entry in the cut: the group's state is exactly its log up to
    /// here (0 when it had applied nothing).
    pub index: u64,
    /// Number of key-value pairs in the group's section.
    pub pairs: u64,
}

/// Version 1's metadata (one group). Its fields in this order are the encoding: never change it.
#[derive(Deserialize)]
#[cfg_attr(test, derive(Serialize))]
struct MetaV1 {
    cluster: String,
    term: u64,
    index: u64,
    storage_format: u32,
    created_at_ms: i64,
    node: RaftNodeId,
    pairs: u64,
}

impl From<MetaV1> for BackupMeta {
    fn from(m: MetaV1) -> BackupMeta {
        let group = GroupCut { group: 0, term: m.term, index: m.index, pairs: m.pairs };
        BackupMeta { cluster: m.cluster, storage_format: m.storage_format, created_at_ms: m.created_at_ms, node: m.node, groups: vec![group] }
    }
}

/// One Raft group's cut as its state machine gave it: what the encoder writes as a section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// The group.
    pub group: GroupId,
    /// The group's last entry the cut holds (`None`: it had applied nothing).
    pub applied: Option<LogId<RaftNodeId>>,
    /// The group's data pairs (meta keys left out).
    pub pairs: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Section {
    /// What the backup says about this section.
    pub fn cut(&self) -> GroupCut {
        GroupCut {
            group: self.group,
            term: self.applied.map_or(0, |l| l.leader_id.term),
            index: self.applied.map_or(0, |l| l.index),
            pairs: self.pairs.len() as u64,
        }
    }
}

fn preamble_check(head: &[u8]) -> [u8; 8] {
    let d = Sha256::digest(head);
    let mut out = [0u8; 8];
    out.copy_from_slice(&d[..8]);
    out
}

/// The preamble and the metadata block of a file of `version` and `total` bytes.
fn head(version: u32, total: u64, meta_bytes: &[u8]) -> Vec<u8> {
    let mut head = Vec::with_capacity(PREAMBLE_BYTES + 4 + meta_bytes.len());
    head.extend_from_slice(MAGIC);
    head.extend_from_slice(&version.to_be_bytes());
    head.extend_from_slice(&total.to_be_bytes());
    let check = preamble_check(&head);
    head.extend_from_slice(&check);
    head.extend_from_slice(&(meta_bytes.len() as u32).to_be_bytes());
    head.extend_from_slice(meta_bytes);
    head
}

/// The encoded length of one pair.
fn pair_bytes(k: &[u8], v: &[u8]) -> u64 {
    8 + k.len() as u64 + v.len() as u64
}

fn put_pair(out: &mut Vec<u8>, k: &[u8], v: &[u8]) {
    out.extend_from_slice(&(k.len() as u32).to_be_bytes());
    out.extend_from_slice(k);
    out.extend_from_slice(&(v.len() as u32).to_be_bytes());
    out.extend_from_slice(v);
}

fn section_head(cut: &GroupCut) -> [u8; SECTION_HEAD_BYTES] {
    let mut out = [0u8; SECTION_HEAD_BYTES];
    out[..2].copy_from_slice(&cut.group.to_be_bytes());
    out[2..10].copy_from_slice(&cut.term.to_be_bytes());
    out[10..18].copy_from_slice(&cut.index.to_be_bytes());
    out[18..].copy_from_slice(&cut.pairs.to_be_bytes());
    out
}

fn parse_section_head(b: &[u8; SECTION_HEAD_BYTES]) -> GroupCut {
    let u64_at = |i: usize| u64::from_be_bytes(b[i..i + 8].try_into().expect("8 bytes"));
    GroupCut { group: u16::from_be_bytes([b[0], b[1]]), term: u64_at(2), index: u64_at(10), pairs: u64_at(18) }
}

/// Whether `groups` is what a backup may hold: at least one group, ascending ids, each once,
/// each one a store can hold.
fn groups_well_formed(groups: &[GroupCut]) -> bool {
    !groups.is_empty() && groups.windows(2).all(|w| w[0].group < w[1].group) && groups.iter().all(|g| g.group < GROUPS_MAX)
}

/// A backup being written: the encoded file as a sequence of chunks of about [`CHUNK_BYTES`],
/// its digest computed on the way, so the whole file never exists in memory.
pub struct Encoder {
    head: Option<Vec<u8>>,
    sections: std::vec::IntoIter<Section>,
    /// The pairs of the section being written.
    pairs: std::vec::IntoIter<(Vec<u8>, Vec<u8>)>,
    hasher: Sha256,
    done: bool,
    total: u64,
}

impl Encoder {
    /// Encodes `sections` (one cut per group, by ascending group id, at least one) described by
    /// `meta`, whose `groups` are set here from them.
    pub fn new(mut meta: BackupMeta, sections: Vec<Section>) -> Result<Encoder, Error> {
        meta.groups = sections.iter().map(Section::cut).collect();
        assert!(groups_well_formed(&meta.groups), "a backup holds groups by ascending id, each once: {:?}", meta.groups);
        let meta_bytes = encode(&meta).map_err(Error::corrupt("backup meta"))?;
        let body: u64 = sections.iter().map(|s| SECTION_HEAD_BYTES as u64 + s.pairs.iter().map(|(k, v)| pair_bytes(k, v)).sum::<u64>()).sum();
        let total = PREAMBLE_BYTES as u64 + 4 + meta_bytes.len() as u64 + body + DIGEST_BYTES as u64;
        Ok(Encoder {
            head: Some(head(VERSION, total, &meta_bytes)),
            sections: sections.into_iter(),
            pairs: Vec::new().into_iter(),
            hasher: Sha256::new(),
            done: false,
            total,
        })
    }

    /// The length of the whole file.
    pub fn total_bytes(&self) -> u64 {
        self.total
    }
}

impl Iterator for Encoder {
    type Item = Vec<u8>;

    fn next(&mut self) -> Option<Vec<u8>> {
        if self.done {
            return None;
        }
        let mut chunk = self.head.take().unwrap_or_default();
        while chunk.len() < CHUNK_BYTES {
            if let Some((k, v)) = self.pairs.next() {
                put_pair(&mut chunk, &k, &v);
            } else if let Some(section) = self.sections.next() {
                chunk.extend_from_slice(&section_head(&section.cut()));
                self.pairs = section.pairs.into_iter();
            } else {
                self.hasher.update(&chunk);
                let digest = std::mem::take(&mut self.hasher).finalize();
                chunk.extend_from_slice(&digest);
                self.done = true;
                return Some(chunk);
            }
        }
        self.hasher.update(&chunk);
        Some(chunk)
    }
}

/// Reads exactly `buf.len()` bytes, or says the file ended first.
fn read_full(r: &mut impl Read, buf: &mut [u8], total: u64) -> Result<(), Error> {
    r.read_exact(buf).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => Error::BackupTruncated { expected: total },
        _ => Error::BackupIo { what: "read", source: e },
    })
}

/// Checks a whole backup in one streaming pass (magic, version, preamble, length, digest) and
/// returns its metadata. `r` must start at the file's first byte; `len` is the file's length.
pub fn verify(mut r: impl Read, len: u64) -> Result<BackupMeta, Error> {
    let mut pre = [0u8; PREAMBLE_BYTES];
    let have = r.by_ref().take(PREAMBLE_BYTES as u64).read(&mut pre).map_err(|source| Error::BackupIo { what: "read", source })?;
    // Short reads are allowed by `Read`; fill what is there before judging.
    let mut have = have;
    while have < PREAMBLE_BYTES {
        let n = r.read(&mut pre[have..]).map_err(|source| Error::BackupIo { what: "read", source })?;
        if n == 0 {
            break;
        }
        have += n;
    }
    if have < MAGIC.len() || &pre[..MAGIC.len()] != MAGIC {
        return Err(Error::NotABackup);
    }
    if have < 11 {
        return Err(Error::BackupTruncated { expected: PREAMBLE_BYTES as u64 });
    }
    let version = u32::from_be_bytes(pre[7..11].try_into().expect("4 bytes"));
    if !(VERSION_ONE_GROUP..=VERSION).contains(&version) {
        return Err(Error::BackupVersion { found: version, supported: VERSION });
    }
    if have < PREAMBLE_BYTES {
        return Err(Error::BackupTruncated { expected: PREAMBLE_BYTES as u64 });
    }
    if pre[19..27] != preamble_check(&pre[..19]) {
        return Err(Error::BackupCorrupt("the header's check does not match".into()));
    }
    let total = u64::from_be_bytes(pre[11..19].try_into().expect("8 bytes"));
    if len < total {
        return Err(Error::BackupTruncated { expected: total });
    }
    if len > total {
        return Err(Error::BackupCorrupt(format!("{} bytes after the end the header names", len - total)));
    }
    if total < (PREAMBLE_BYTES + 4 + DIGEST_BYTES) as u64 {
        return Err(Error::BackupCorrupt(format!("a total length of {total} bytes cannot hold a backup")));
    }
    let mut hasher = Sha256::new();
    hasher.update(pre);
    let mut rest = total - PREAMBLE_BYTES as u64 - DIGEST_BYTES as u64;
    let mut buf = vec![0u8; READ_BUF_BYTES];
    let mut meta_head: Vec<u8> = Vec::new();
    while rest > 0 {
        let n = rest.min(buf.len() as u64) as usize;
        read_full(&mut r, &mut buf[..n], total)?;
        hasher.update(&buf[..n]);
        // Keep what the metadata needs (its length and at most META_BYTES_MAX bytes).
        let want = 4 + META_BYTES_MAX as usize;
        if meta_head.len() < want {
            let take = (want - meta_head.len()).min(n);
            meta_head.extend_from_slice(&buf[..take]);
        }
        rest -= n as u64;
    }
    let mut digest = [0u8; DIGEST_BYTES];
    read_full(&mut r, &mut digest, total)?;
    if hasher.finalize().as_slice() != digest {
        return Err(Error::BackupCorrupt("the SHA-256 checksum does not match the contents".into()));
    }
    let meta_len = u32::from_be_bytes(meta_head[..4].try_into().expect("4 bytes"));
    if meta_len > META_BYTES_MAX || meta_head.len() < 4 + meta_len as usize {
        return Err(Error::BackupCorrupt(format!("metadata of {meta_len} bytes")));
    }
    let meta_bytes = &meta_head[4..4 + meta_len as usize];
    let meta = match version {
        VERSION_ONE_GROUP => decode::<MetaV1>(meta_bytes).map(BackupMeta::from),
        _ => decode::<BackupMeta>(meta_bytes),
    };
    let meta = meta.map_err(|e| Error::BackupCorrupt(format!("metadata: {e}")))?;
    if !groups_well_formed(&meta.groups) {
        return Err(Error::BackupCorrupt(format!("metadata names the raft groups {:?}", meta.groups)));
    }
    Ok(meta)
}

/// Reads one pair. A length is believed only as far as the bytes behind it go (nothing is
/// allocated ahead of what was read).
fn read_pair(r: &mut impl Read) -> Result<(Vec<u8>, Vec<u8>), Error> {
    let mut field = || -> Result<Vec<u8>, Error> {
        let mut len = [0u8; 4];
        read_full(r, &mut len, u64::MAX)?;
        let len = u64::from(u32::from_be_bytes(len));
        let mut v = Vec::new();
        r.by_ref().take(len).read_to_end(&mut v).map_err(|source| Error::BackupIo { what: "read", source })?;
        if (v.len() as u64) < len {
            return Err(Error::BackupTruncated { expected: u64::MAX });
        }
        Ok(v)
    };
    let k = field()?;
    Ok((k, field()?))
}

/// The body of a backup that [`verify`] accepted, read section by section in the order of its
/// metadata's groups, one pair in memory at a time.
pub struct Body<R> {
    r: R,
    version: u32,
    groups: std::vec::IntoIter<GroupCut>,
    /// Pairs of the current section not read yet.
    left: u64,
}

impl<R: Read> Body<R> {
    /// `r` starts at the first byte of the file [`verify`] accepted as `meta`.
    pub fn open(mut r: R, meta: &BackupMeta) -> Result<Body<R>, Error> {
        let mut pre = [0u8; PREAMBLE_BYTES + 4];
        read_full(&mut r, &mut pre, u64::MAX)?;
        let version = u32::from_be_bytes(pre[7..11].try_into().expect("4 bytes"));
        let meta_len = u32::from_be_bytes(pre[PREAMBLE_BYTES..].try_into().expect("4 bytes")) as u64;
        let skipped = std::io::copy(&mut r.by_ref().take(meta_len), &mut std::io::sink()).map_err(|source| Error::BackupIo { what: "read", source })?;
        if skipped < meta_len {
            return Err(Error::BackupTruncated { expected: u64::MAX });
        }
        Ok(Body { r, version, groups: meta.groups.clone().into_iter(), left: 0 })
    }

    /// The next group's cut and its pairs; `None` after the last section. Pairs of the previous
    /// section that were not read are skipped here. A section whose head disagrees with the
    /// metadata is refused as corrupt.
    pub fn next_section(&mut self) -> Option<Result<(GroupCut, Pairs<'_, R>), Error>> {
        while self.left > 0 {
            self.left -= 1;
            if let Err(e) = read_pair(&mut self.r) {
                return Some(Err(e));
            }
        }
        let cut = self.groups.next()?;
        if self.version != VERSION_ONE_GROUP {
            let mut head = [0u8; SECTION_HEAD_BYTES];
            if let Err(e) = read_full(&mut self.r, &mut head, u64::MAX) {
                return Some(Err(e));
            }
            let found = parse_section_head(&head);
            if found != cut {
                return Some(Err(Error::BackupCorrupt(format!("a section of {found:?} where the metadata names {cut:?}"))));
            }
        }
        self.left = cut.pairs;
        Some(Ok((cut, Pairs { r: &mut self.r, left: &mut self.left })))
    }
}

/// One section's pairs (see [`Body::next_section`]).
pub struct Pairs<'a, R> {
    r: &'a mut R,
    left: &'a mut u64,
}

impl<R: Read> Iterator for Pairs<'_, R> {
    type Item = Result<(Vec<u8>, Vec<u8>), Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if *self.left == 0 {
            return None;
        }
        *self.left -= 1;
        Some(read_pair(self.r))
    }
}

/// Seeds the empty store directory `store_dir`, which will run `groups` Raft groups, from the
/// backup at `file` for a new cluster of `members` (all voters): each group's state machine
/// holds its section's data as applied at the section's index, under this fresh membership,
/// and its log before that index counts as purged, so a member that starts empty instead
/// receives the state by snapshot. A group the store runs but the backup does not hold stays
/// empty and is formed at start like a new cluster's.
///
/// Refuses, before writing anything: a directory that holds anything, a backup of another
/// store format, and a backup holding a group the store will not run (group `groups` or
/// higher): its data would be left out.
pub fn restore(file: &Path, store_dir: &Path, members: BTreeMap<RaftNodeId, SveaNode>, cache_bytes: u64, groups: GroupId) -> Result<BackupMeta, Error> {
    let open = || std::fs::File::open(file).map_err(|source| Error::BackupIo { what: "open", source });
    let f = open()?;
    let len = f.metadata().map_err(|source| Error::BackupIo { what: "stat", source })?.len();
    let meta = verify(std::io::BufReader::new(f), len)?;
    if meta.storage_format != crate::FORMAT {
        return Err(Error::BackupStoreFormat { found: meta.storage_format, expected: crate::FORMAT });
    }
    if let Some(highest) = meta.groups.last().filter(|g| g.group >= groups) {
        return Err(Error::BackupGroups { in_backup: meta.groups.len(), highest: highest.group, runs: groups });
    }
    if members.is_empty() {
        return Err(Error::BackupCorrupt("no members to restore into".into()));
    }
    if let Ok(mut entries) = std::fs::read_dir(store_dir) {
        if entries.next().is_some() {
            return Err(Error::NotEmpty { path: store_dir.to_path_buf() });
        }
    }
    crate::create_private_dir(store_dir).map_err(|source| Error::BackupIo { what: "create the store directory", source })?;
    let engine = Engine::Sled(SledEngine::open(store_dir, cache_bytes)?);
    crate::check_format(&engine, &store_dir.display().to_string())?;
    let voters: BTreeSet<RaftNodeId> = members.keys().copied().collect();
    let membership = Membership::new(vec![voters], members);
    let mut body = Body::open(std::io::BufReader::new(open()?), &meta)?;
    while let Some(section) = body.next_section() {
        let (cut, pairs) = section?;
        // Term 0: the new cluster's first leader is elected in term 1, after this point.
        let at = LogId::new(CommittedLeaderId::new(0, 0), cut.index);
        crate::state_machine::seed(&engine, cut.group, pairs, at, membership.clone())?;
        crate::log_store::seed_purged(&engine, cut.group, at)?;
    }
    engine.flush_blocking()?;
    drop(engine);
    wait_released(store_dir)?;
    Ok(meta)
}

/// How long [`restore`] waits for sled to let go of the store it wrote.
const RELEASE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Waits until no one holds sled's lock on the store in `dir` (the file `db`, locked with
/// `flock` while a sled instance has it open). Dropping the engine does not release it at once:
/// sled's flusher thread ends, and drops its handle on the file, asynchronously. So a caller that
/// opens the restored store in the same process right after (a test; `svea restore` exits) could
/// find it locked; after this it cannot.
fn wait_released(dir: &Path) -> Result<(), Error> {
    let db = dir.join("db");
    let started = std::time::Instant::now();
    loop {
        let file = std::fs::File::open(&db).map_err(|source| Error::BackupIo { what: "open the restored store", source })?;
        match file.try_lock() {
            Ok(()) => return Ok(()),
            Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < RELEASE_WAIT => std::thread::sleep(std::time::Duration::from_millis(20)),
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(Error::BackupIo { what: "wait for the restored store's lock", source: std::io::Error::other(format!("still locked after {RELEASE_WAIT:?}")) })
            }
            Err(std::fs::TryLockError::Error(source)) => return Err(Error::BackupIo { what: "lock the restored store", source }),
        }
    }
}

/// Writes a whole backup to `out` (for tests and tools that hold the cut already).
pub fn write_all(meta: BackupMeta, sections: Vec<Section>, mut out: impl Write) -> Result<(), Error> {
    for chunk in Encoder::new(meta, sections)? {
        out.write_all(&chunk).map_err(|source| Error::BackupIo { what: "write", source })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;


    fn meta() -> BackupMeta {
        BackupMeta { cluster: "svea".into(), storage_format: crate::FORMAT, created_at_ms: 1, node: 2, groups: Vec::new() }
    }

    fn at(term: u64, index: u64) -> Option<LogId<RaftNodeId>> {
        Some(LogId::new(CommittedLeaderId::new(term, 1), index))
    }

    /// Three groups, enough pairs for several chunks, and a group that had applied nothing.
    fn sample() -> Vec<Section> {
        let pairs = |g: u16, n: u32| (0..n).map(|i| (format!("s/session/g{g}-{i:05}").into_bytes(), vec![i as u8; 50])).collect();
        vec![
            Section { group: 0, applied: at(3, 42), pairs: pairs(0, 3000) },
            Section { group: 1, applied: None, pairs: Vec::new() },
            Section { group: 2, applied: at(5, 7), pairs: pairs(2, 10) },
        ]
    }

    fn file() -> (BackupMeta, Vec<Section>, Vec<u8>) {
        let sections = sample();
        let mut out = Vec::new();
        write_all(meta(), sections.clone(), &mut out).expect("write");
        (BackupMeta { groups: sections.iter().map(Section::cut).collect(), ..meta() }, sections, out)
    }

    fn check(bytes: &[u8]) -> Result<BackupMeta, Error> {
        verify(bytes, bytes.len() as u64)
    }

    /// Every section of `bytes`: its cut and its pairs.
    fn read_back(bytes: &[u8], meta: &BackupMeta) -> Result<Vec<(GroupCut, Vec<(Vec<u8>, Vec<u8>)>)>, Error> {
        let mut body = Body::open(bytes, meta)?;
        let mut out = Vec::new();
        while let Some(section) = body.next_section() {
            let (cut, pairs) = section?;
            out.push((cut, pairs.collect::<Result<_, _>>()?));
        }
        Ok(out)
    }

    /// The version-1 encoder as it was (one group, no sections), kept to prove old files read.
    fn write_v1(meta: &MetaV1, pairs: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
        let meta_bytes = encode(meta).expect("meta");
        let body: u64 = pairs.iter().map(|(k, v)| pair_bytes(k, v)).sum();
        let total = PREAMBLE_BYTES as u64 + 4 + meta_bytes.len() as u64 + body + DIGEST_BYTES as u64;
        let mut out = head(VERSION_ONE_GROUP, total, &meta_bytes);
        for (k, v) in pairs {
            put_pair(&mut out, k, v);
        }
        let digest = Sha256::digest(&out);
        out.extend_from_slice(&digest);
        out
    }

    /// What `tests/fixtures/backup-v1.hex` holds: written by the version-1 encoder before
    /// version 2 existed.
    fn fixture_v1() -> (MetaV1, Vec<(Vec<u8>, Vec<u8>)>, Vec<u8>) {
        let meta = MetaV1 { cluster: "svea-v1".into(), term: 3, index: 42, storage_format: 9, created_at_ms: 1_765_000_000_000, node: 2, pairs: 4 };
        let pairs = vec![
            (b"c/cluster-name".to_vec(), b"svea-v1".to_vec()),
            (b"i/org/5560360793".to_vec(), vec![]),
            (b"o/session/s_1".to_vec(), vec![2, 0, 0, 0, 0, 0, 0, 0, 1]),
            (b"s/session/s_1".to_vec(), b"one".to_vec()),
        ];
        let hex: Vec<u8> = include_str!("../tests/fixtures/backup-v1.hex").bytes().filter(u8::is_ascii_hexdigit).collect();
        let bytes = hex.chunks(2).map(|c| u8::from_str_radix(std::str::from_utf8(c).expect("ascii"), 16).expect("hex")).collect();
        (meta, pairs, bytes)
    }

    #[test]
    fn a_written_backup_verifies_and_reads_back_every_group_in_its_own_section() {
        let (meta, sections, bytes) = file();
        assert!(bytes.len() > 2 * CHUNK_BYTES, "the sample spans several chunks");
        assert_eq!(Encoder::new(meta.clone(), sections.clone()).expect("enc").total_bytes(), bytes.len() as u64);
        assert_eq!(check(&bytes).expect("verify"), meta);
        assert_eq!(meta.groups[1], GroupCut { group: 1, term: 0, index: 0, pairs: 0 }, "a group that applied nothing");
        let read = read_back(&bytes, &meta).expect("read");
        let expected: Vec<_> = sections.into_iter().map(|s| (s.cut(), s.pairs)).collect();
        assert_eq!(read, expected);
    }

    #[test]
    fn a_section_left_unread_is_skipped_for_the_next() {
        let (meta, sections, bytes) = file();
        let mut body = Body::open(&bytes[..], &meta).expect("open");
        let (first, mut pairs) = body.next_section().expect("group 0").expect("read");
        assert_eq!(first.group, 0);
        pairs.next().expect("one pair").expect("read");
        let (second, pairs) = body.next_section().expect("group 1").expect("read");
        assert_eq!((second.group, pairs.count()), (1, 0));
        let (third, pairs) = body.next_section().expect("group 2").expect("read");
        assert_eq!(third.group, 2);
        assert_eq!(pairs.collect::<Result<Vec<_>, _>>().expect("read"), sections[2].pairs);
        assert!(body.next_section().is_none());
    }

    #[test]
    fn every_flipped_byte_is_refused_as_corrupt_or_as_what_it_broke() {
        let (_, _, bytes) = file();
        // Every byte of the preamble and metadata, and a spread over the body and digest.
        let positions = (0..120).chain((120..bytes.len()).step_by(997)).chain([bytes.len() - 1]);
        for i in positions {
            let mut bad = bytes.clone();
            bad[i] ^= 0x40;
            let err = check(&bad).expect_err("a flipped byte must be refused");
            match i {
                0..=6 => assert!(matches!(err, Error::NotABackup), "byte {i}: {err}"),
                7..=10 => assert!(matches!(err, Error::BackupVersion { .. }), "byte {i}: {err}"),
                _ => assert!(matches!(err, Error::BackupCorrupt(_)), "byte {i}: {err}"),
            }
        }
    }

    #[test]
    fn a_truncated_backup_says_so_wherever_it_was_cut() {
        let (_, _, bytes) = file();
        for cut in [11, 20, 27, 40, 1000, bytes.len() / 2, bytes.len() - 1] {
            let err = check(&bytes[..cut]).expect_err("truncated");
            assert!(matches!(err, Error::BackupTruncated { .. }), "cut at {cut}: {err}");
        }
        assert!(matches!(check(&[bytes.clone(), vec![0]].concat()), Err(Error::BackupCorrupt(_))), "trailing bytes");
    }

    #[test]
    fn foreign_files_and_other_versions_are_named_as_such() {
        for foreign in [&b""[..], b"SQLite format 3\0", b"{\"json\": true}", b"SVEAB"] {
            assert!(matches!(check(foreign), Err(Error::NotABackup)), "{foreign:?}");
        }
        let (_, _, bytes) = file();
        for version in [0u32, 3] {
            let mut other = bytes.clone();
            other[7..11].copy_from_slice(&version.to_be_bytes());
            let err = check(&other).expect_err("another version");
            assert!(matches!(err, Error::BackupVersion { found, supported: 2 } if found == version), "{err}");
        }
    }

    #[test]
    fn a_section_that_disagrees_with_the_metadata_is_refused_even_under_a_valid_checksum() {
        let (meta, _, mut bytes) = file();
        // Group 2's head names 9 pairs instead of 10; the checksum made anew, as a faulty writer would.
        let head = section_head(&meta.groups[2]);
        let at = bytes.windows(SECTION_HEAD_BYTES).rposition(|w| w == head).expect("group 2's head");
        bytes[at + SECTION_HEAD_BYTES - 1] = 9;
        let end = bytes.len() - DIGEST_BYTES;
        let digest = Sha256::digest(&bytes[..end]);
        bytes[end..].copy_from_slice(&digest);
        assert_eq!(check(&bytes).expect("the checksum is valid"), meta);
        let err = read_back(&bytes, &meta).expect_err("the head disagrees");
        assert!(matches!(err, Error::BackupCorrupt(_)), "{err}");
    }

    #[test]
    fn a_version_1_file_from_the_old_encoder_reads_as_group_0() {
        let (old, pairs, fixture) = fixture_v1();
        assert_eq!(write_v1(&old, &pairs), fixture, "the kept version-1 encoder writes what the old one wrote");
        let meta = check(&fixture).expect("a version-1 file verifies");
        assert_eq!(meta.groups, vec![GroupCut { group: 0, term: 3, index: 42, pairs: 4 }]);
        assert_eq!((meta.cluster.as_str(), meta.storage_format, meta.created_at_ms, meta.node), ("svea-v1", 9, 1_765_000_000_000, 2));
        assert_eq!(read_back(&fixture, &meta).expect("read"), vec![(meta.groups[0], pairs)]);
        // Damage is refused in version 1 as in version 2.
        assert!(matches!(check(&fixture[..fixture.len() - 1]), Err(Error::BackupTruncated { .. })));
        let mut bad = fixture.clone();
        bad[60] ^= 1;
        assert!(matches!(check(&bad), Err(Error::BackupCorrupt(_))));
    }

    #[tokio::test]
    async fn a_version_1_backup_restores_into_group_0() {
        let dir = tempfile::tempdir().expect("tmp");
        let (old, pairs, _) = fixture_v1();
        let path = dir.path().join("v1.svea-backup");
        std::fs::write(&path, write_v1(&MetaV1 { storage_format: crate::FORMAT, ..old }, &pairs)).expect("write");
        let members: BTreeMap<_, _> = [(1, SveaNode::default())].into();
        let store = dir.path().join("store");
        let meta = restore(&path, &store, members, 1 << 20, 3).expect("restore");
        assert_eq!(meta.groups, vec![GroupCut { group: 0, term: 3, index: 42, pairs: 4 }]);
        let groups = crate::open_groups(&store, std::time::Duration::from_secs(5), 1 << 20, 3).expect("open");
        let data = |g: usize| groups[g].1.view().pairs().expect("pairs").into_iter().filter(|(k, _)| k[0] != 0).collect::<Vec<_>>();
        assert_eq!(data(0), pairs);
        assert_eq!(groups[0].1.view().last_applied_index().expect("applied"), 42);
        assert!(data(1).is_empty() && data(2).is_empty(), "groups the backup does not hold stay empty");
    }

    #[test]
    fn restore_refuses_a_non_empty_directory_another_store_format_and_groups_it_would_not_run() {
        let dir = tempfile::tempdir().expect("tmp");
        let (meta, sections, bytes) = file();
        let path = dir.path().join("b.svea-backup");
        std::fs::write(&path, &bytes).expect("write");
        let members: BTreeMap<_, _> = [(1, SveaNode::default())].into();
        let store = dir.path().join("store");
        std::fs::create_dir_all(&store).expect("mkdir");
        std::fs::write(store.join("x"), b"x").expect("write");
        assert!(matches!(restore(&path, &store, members.clone(), 1 << 20, 3), Err(Error::NotEmpty { .. })));
        let fresh = dir.path().join("fresh");
        let err = restore(&path, &fresh, members.clone(), 1 << 20, 2).expect_err("group 2 would be lost");
        assert!(matches!(err, Error::BackupGroups { in_backup: 3, highest: 2, runs: 2 }), "{err}");
        assert!(!fresh.exists(), "nothing written");
        let other = BackupMeta { storage_format: crate::FORMAT - 1, ..meta };
        let mut old = Vec::new();
        write_all(other, sections, &mut old).expect("write");
        std::fs::write(&path, &old).expect("write");
        assert!(matches!(restore(&path, &fresh, members, 1 << 20, 3), Err(Error::BackupStoreFormat { .. })));
    }

    #[tokio::test]
    async fn a_restored_store_opens_at_the_backups_index_with_its_data_and_the_new_members() {
        let dir = tempfile::tempdir().expect("tmp");
        let sections = vec![sample().remove(0)];
        let mut bytes = Vec::new();
        write_all(meta(), sections.clone(), &mut bytes).expect("write");
        let path = dir.path().join("b.svea-backup");
        std::fs::write(&path, &bytes).expect("write");
        let node = |r: &str| SveaNode { region: r.into(), ..SveaNode::default() };
        let members: BTreeMap<_, _> = [(1, node("stockholm")), (2, node("gothenburg")), (3, node("malmo"))].into();
        let store = dir.path().join("store");
        let meta = restore(&path, &store, members.clone(), 1 << 20, 1).expect("restore");
        assert_eq!(meta.groups, vec![sections[0].cut()]);
        let (mut log, mut sm) = crate::open(&store, std::time::Duration::from_secs(5)).expect("open");
        let view = sm.view();
        assert_eq!(view.last_applied_index().expect("applied"), 42);
        let data: Vec<_> = view.pairs().expect("pairs").into_iter().filter(|(k, _)| k[0] != 0).collect();
        assert_eq!(data, sections[0].pairs);
        use openraft::storage::{RaftLogStorage, RaftStateMachine};
        let (applied, membership) = sm.applied_state().await.expect("applied state");
        assert_eq!(applied.map(|l| l.index), Some(42));
        assert_eq!(membership.membership().voter_ids().collect::<Vec<_>>(), vec![1, 2, 3]);
        let state = log.get_log_state().await.expect("log state");
        assert_eq!(state.last_purged_log_id, applied);
        let snap = sm.get_current_snapshot().await.expect("snapshot").expect("a snapshot for members that start empty");
        assert_eq!(snap.meta.last_log_id, applied);
        // The restore refuses to run twice into the same store.
        assert!(matches!(restore(&path, &store, members, 1 << 20, 1), Err(Error::NotEmpty { .. })));
    }
}
