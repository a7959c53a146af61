//! Backups: one consistent cut of the replicated state as a versioned, checksummed file, and the
//! seeding of a new cluster's store from such a file.
//!
//! Layout (integers big-endian):
//!
//! ```text
//! "SVEABKP"  version u32  total_len u64  preamble_check [8]   (27 bytes: the preamble)
//! meta_len u32  meta (codec-encoded BackupMeta)
//! meta.pairs times: key_len u32  key  value_len u32  value
//! SHA-256 of every byte before it                           (32 bytes)
//! ```
//!
//! `preamble_check` is the first 8 bytes of the SHA-256 of the 19 bytes before it, so a damaged
//! length is told apart from a short file: a file shorter than `total_len` is truncated, a wrong
//! check or digest is corruption, a file without the magic is not a svea backup at all. A reader
//! verifies everything in one streaming pass before it believes any length inside.
//!
//! The body holds the state machine's data keys only (owners, states, secondary and cluster
//! records), not its Raft meta keys: a restored cluster gets fresh membership.

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

/// The first bytes of every backup file.
pub const MAGIC: &[u8; 7] = b"SVEABKP";
/// The file format this build writes and reads.
pub const VERSION: u32 = 1;
/// Magic, version, total length and the preamble's own check.
pub const PREAMBLE_BYTES: usize = 7 + 4 + 8 + 8;
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
    /// Term of the last entry in the cut.
    pub term: u64,
    /// Index of the last entry in the cut: the state is exactly the log up to here.
    pub index: u64,
    /// The store format ([`crate::FORMAT`]) the body's values are encoded in.
    pub storage_format: u32,
    /// When the cut was taken, Unix milliseconds (the source node's clock).
    pub created_at_ms: i64,
    /// The node that took it.
    pub node: RaftNodeId,
    /// Number of key-value pairs in the body.
    pub pairs: u64,
}

fn preamble_check(head: &[u8]) -> [u8; 8] {
    let d = Sha256::digest(head);
    let mut out = [0u8; 8];
    out.copy_from_slice(&d[..8]);
    out
}

/// The encoded length of one pair.
fn pair_bytes(k: &[u8], v: &[u8]) -> u64 {
    8 + k.len() as u64 + v.len() as u64
}

/// A backup being written: the encoded file as a sequence of chunks of about [`CHUNK_BYTES`],
/// its digest computed on the way, so the whole file never exists in memory.
pub struct Encoder {
    head: Option<Vec<u8>>,
    pairs: std::vec::IntoIter<(Vec<u8>, Vec<u8>)>,
    hasher: Sha256,
    done: bool,
    total: u64,
}

impl Encoder {
    /// Encodes `pairs` (the cut) described by `meta` (whose `pairs` count is set here).
    pub fn new(mut meta: BackupMeta, pairs: Vec<(Vec<u8>, Vec<u8>)>) -> Result<Encoder, Error> {
        meta.pairs = pairs.len() as u64;
        let meta_bytes = encode(&meta).map_err(Error::corrupt("backup meta"))?;
        let body: u64 = pairs.iter().map(|(k, v)| pair_bytes(k, v)).sum();
        let total = PREAMBLE_BYTES as u64 + 4 + meta_bytes.len() as u64 + body + DIGEST_BYTES as u64;
        let mut head = Vec::with_capacity(PREAMBLE_BYTES + 4 + meta_bytes.len());
        head.extend_from_slice(MAGIC);
        head.extend_from_slice(&VERSION.to_be_bytes());
        head.extend_from_slice(&total.to_be_bytes());
        let check = preamble_check(&head);
        head.extend_from_slice(&check);
        head.extend_from_slice(&(meta_bytes.len() as u32).to_be_bytes());
        head.extend_from_slice(&meta_bytes);
        Ok(Encoder { head: Some(head), pairs: pairs.into_iter(), hasher: Sha256::new(), done: false, total })
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
            let Some((k, v)) = self.pairs.next() else {
                self.hasher.update(&chunk);
                let digest = std::mem::take(&mut self.hasher).finalize();
                chunk.extend_from_slice(&digest);
                self.done = true;
                return Some(chunk);
            };
            chunk.extend_from_slice(&(k.len() as u32).to_be_bytes());
            chunk.extend_from_slice(&k);
            chunk.extend_from_slice(&(v.len() as u32).to_be_bytes());
            chunk.extend_from_slice(&v);
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
    if version != VERSION {
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
    decode(&meta_head[4..4 + meta_len as usize]).map_err(|e| Error::BackupCorrupt(format!("metadata: {e}")))
}

/// The pairs of a backup that [`verify`] accepted: `r` starts at the file's first byte.
pub fn pairs(mut r: impl Read, meta: &BackupMeta) -> impl Iterator<Item = Result<(Vec<u8>, Vec<u8>), Error>> {
    let mut left = meta.pairs;
    let mut started = false;
    std::iter::from_fn(move || {
        let total = u64::MAX;
        if !started {
            started = true;
            let mut pre = [0u8; PREAMBLE_BYTES + 4];
            if let Err(e) = read_full(&mut r, &mut pre, total) {
                return Some(Err(e));
            }
            let meta_len = u32::from_be_bytes(pre[PREAMBLE_BYTES..].try_into().expect("4 bytes")) as u64;
            if let Err(e) = std::io::copy(&mut r.by_ref().take(meta_len), &mut std::io::sink()) {
                return Some(Err(Error::BackupIo { what: "read", source: e }));
            }
        }
        if left == 0 {
            return None;
        }
        left -= 1;
        let mut field = || -> Result<Vec<u8>, Error> {
            let mut len = [0u8; 4];
            read_full(&mut r, &mut len, total)?;
            let mut v = vec![0u8; u32::from_be_bytes(len) as usize];
            read_full(&mut r, &mut v, total)?;
            Ok(v)
        };
        Some(field().and_then(|k| Ok((k, field()?))))
    })
}

/// Seeds the empty store directory `store_dir` from the backup at `file` for a new cluster of
/// `members` (all voters): the state machine holds the backup's data as applied at the backup's
/// index, under this fresh membership, and the log before that index counts as purged, so a
/// member that starts empty instead receives the state by snapshot. Refuses a directory that
/// holds anything, and a backup of another store format.
pub fn restore(file: &Path, store_dir: &Path, members: BTreeMap<RaftNodeId, SveaNode>, cache_bytes: u64) -> Result<BackupMeta, Error> {
    let open = || std::fs::File::open(file).map_err(|source| Error::BackupIo { what: "open", source });
    let f = open()?;
    let len = f.metadata().map_err(|source| Error::BackupIo { what: "stat", source })?.len();
    let meta = verify(std::io::BufReader::new(f), len)?;
    if meta.storage_format != crate::FORMAT {
        return Err(Error::BackupStoreFormat { found: meta.storage_format, expected: crate::FORMAT });
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
    // Term 0: the new cluster's first leader is elected in term 1, after this point.
    let at = LogId::new(CommittedLeaderId::new(0, 0), meta.index);
    let voters: BTreeSet<RaftNodeId> = members.keys().copied().collect();
    let membership = Membership::new(vec![voters], members);
    let body = pairs(std::io::BufReader::new(open()?), &meta);
    crate::state_machine::seed(&engine, 0, body, at, membership)?;
    crate::log_store::seed_purged(&engine, 0, at)?;
    engine.flush_blocking()?;
    Ok(meta)
}

/// Writes a whole backup to `out` (for tests and tools that hold the cut already).
pub fn write_all(meta: BackupMeta, pairs: Vec<(Vec<u8>, Vec<u8>)>, mut out: impl Write) -> Result<(), Error> {
    for chunk in Encoder::new(meta, pairs)? {
        out.write_all(&chunk).map_err(|source| Error::BackupIo { what: "write", source })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (BackupMeta, Vec<(Vec<u8>, Vec<u8>)>) {
        let meta = BackupMeta { cluster: "svea".into(), term: 3, index: 42, storage_format: crate::FORMAT, created_at_ms: 1, node: 2, pairs: 0 };
        // Enough pairs for several chunks.
        let pairs = (0..3000u32).map(|i| (format!("s/session/{i:05}").into_bytes(), vec![i as u8; 50])).collect();
        (meta, pairs)
    }

    fn file() -> (BackupMeta, Vec<(Vec<u8>, Vec<u8>)>, Vec<u8>) {
        let (meta, pairs) = sample();
        let mut out = Vec::new();
        write_all(meta.clone(), pairs.clone(), &mut out).expect("write");
        (BackupMeta { pairs: pairs.len() as u64, ..meta }, pairs, out)
    }

    fn check(bytes: &[u8]) -> Result<BackupMeta, Error> {
        verify(bytes, bytes.len() as u64)
    }

    #[test]
    fn a_written_backup_verifies_and_reads_back_every_pair() {
        let (meta, pairs, bytes) = file();
        assert!(bytes.len() > 2 * CHUNK_BYTES, "the sample spans several chunks");
        assert_eq!(Encoder::new(meta.clone(), pairs.clone()).expect("enc").total_bytes(), bytes.len() as u64);
        assert_eq!(check(&bytes).expect("verify"), meta);
        let read: Vec<_> = super::pairs(&bytes[..], &meta).collect::<Result<_, _>>().expect("pairs");
        assert_eq!(read, pairs);
    }

    #[test]
    fn every_flipped_byte_is_refused_as_corrupt_or_as_what_it_broke() {
        let (_, _, bytes) = file();
        // Every byte of the preamble and metadata, and a spread over the body and digest.
        let positions = (0..80).chain((80..bytes.len()).step_by(997)).chain([bytes.len() - 1]);
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
        let (_, _, mut bytes) = file();
        bytes[7..11].copy_from_slice(&2u32.to_be_bytes());
        assert!(matches!(check(&bytes), Err(Error::BackupVersion { found: 2, supported: 1 })));
    }

    #[test]
    fn restore_refuses_a_non_empty_directory_and_another_store_format() {
        let dir = tempfile::tempdir().expect("tmp");
        let (meta, pairs, bytes) = file();
        let path = dir.path().join("b.svea-backup");
        std::fs::write(&path, &bytes).expect("write");
        let members: BTreeMap<_, _> = [(1, SveaNode::default())].into();
        let store = dir.path().join("store");
        std::fs::create_dir_all(&store).expect("mkdir");
        std::fs::write(store.join("x"), b"x").expect("write");
        assert!(matches!(restore(&path, &store, members.clone(), 1 << 20), Err(Error::NotEmpty { .. })));
        let other = BackupMeta { storage_format: crate::FORMAT - 1, ..meta };
        let mut old = Vec::new();
        write_all(other, pairs, &mut old).expect("write");
        std::fs::write(&path, &old).expect("write");
        let fresh = dir.path().join("fresh");
        assert!(matches!(restore(&path, &fresh, members, 1 << 20), Err(Error::BackupStoreFormat { .. })));
    }

    #[tokio::test]
    async fn a_restored_store_opens_at_the_backups_index_with_its_data_and_the_new_members() {
        let dir = tempfile::tempdir().expect("tmp");
        let (meta, pairs, bytes) = file();
        let path = dir.path().join("b.svea-backup");
        std::fs::write(&path, &bytes).expect("write");
        let node = |r: &str| SveaNode { region: r.into(), ..SveaNode::default() };
        let members: BTreeMap<_, _> = [(1, node("stockholm")), (2, node("gothenburg")), (3, node("malmo"))].into();
        let store = dir.path().join("store");
        assert_eq!(restore(&path, &store, members.clone(), 1 << 20).expect("restore"), meta);
        let (mut log, mut sm) = crate::open(&store, std::time::Duration::from_secs(5)).expect("open");
        let view = sm.view();
        assert_eq!(view.last_applied_index().expect("applied"), meta.index);
        let data: Vec<_> = view.pairs().expect("pairs").into_iter().filter(|(k, _)| k[0] != 0).collect();
        assert_eq!(data, pairs);
        use openraft::storage::{RaftLogStorage, RaftStateMachine};
        let (applied, membership) = sm.applied_state().await.expect("applied state");
        assert_eq!(applied.map(|l| l.index), Some(meta.index));
        assert_eq!(membership.membership().voter_ids().collect::<Vec<_>>(), vec![1, 2, 3]);
        let state = log.get_log_state().await.expect("log state");
        assert_eq!(state.last_purged_log_id, applied);
        let snap = sm.get_current_snapshot().await.expect("snapshot").expect("a snapshot for members that start empty");
        assert_eq!(snap.meta.last_log_id, applied);
        // The restore refuses to run twice into the same store.
        assert!(matches!(restore(&path, &store, members, 1 << 20), Err(Error::NotEmpty { .. })));
    }
}
