//! A compact MaxMind DB writer: enough of the format (version 2.0) to write city databases that any
//! MaxMind DB reader opens.
//!
//! No maintained writer crate existed when this was written (the two on crates.io were single-author
//! 0.1 releases), and the subset needed here is small: an IPv6 search tree with 24-, 28- or 32-bit
//! records, a data section without pointers (identical records are stored once and shared), and the
//! metadata map. IPv4 networks live at `::/96` as the format requires, and `::ffff:0:0/96`
//! (IPv4-mapped) points at the same subtree, as MaxMind's own databases do.
//!
//! Networks have longest-prefix semantics whatever the order of [`MmdbWriter::insert`]: the tree is
//! built least specific first. Output is a pure function of the inserted networks and the metadata
//! (no clock), so the same input always gives the same bytes.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs;
use std::io::Write;
use std::net::Ipv6Addr;
use std::path::Path;

use ipnetwork::IpNetwork;

use crate::Error;

/// Separates the data section from the metadata section; a reader searches the file's tail for it.
pub const METADATA_MARKER: &[u8] = b"\xAB\xCD\xEFMaxMind.com";

/// Zero bytes between the search tree and the data section.
const DATA_SECTION_SEPARATOR_LEN: usize = 16;

/// Depth of the IPv4 subtree (`::/96`) in the IPv6 tree.
const IPV4_DEPTH: u8 = 96;

/// Largest size a control byte can express (`65821 + 2^24 - 1`).
const ENCODED_SIZE_MAX: usize = 65_821 + (1 << 24) - 1;

/// Type numbers of the MaxMind DB data section.
mod ty {
    pub const STRING: u8 = 2;
    pub const DOUBLE: u8 = 3;
    pub const UINT16: u8 = 5;
    pub const UINT32: u8 = 6;
    pub const MAP: u8 = 7;
    pub const INT32: u8 = 8;
    pub const UINT64: u8 = 9;
    pub const ARRAY: u8 = 11;
    pub const BOOLEAN: u8 = 14;
    pub const FLOAT: u8 = 15;
}

/// A value in the data section. Maps are ordered by key, so encodings are deterministic.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// UTF-8 string.
    String(String),
    /// IEEE 754 double (MaxMind's `location.latitude` and friends).
    Double(f64),
    /// IEEE 754 single precision float.
    Float(f32),
    /// Unsigned 16-bit integer.
    U16(u16),
    /// Unsigned 32-bit integer (`geoname_id`).
    U32(u32),
    /// Unsigned 64-bit integer.
    U64(u64),
    /// Signed 32-bit integer.
    I32(i32),
    /// Boolean.
    Bool(bool),
    /// Map from string keys to values.
    Map(BTreeMap<String, Value>),
    /// Array.
    Array(Vec<Value>),
}

impl Value {
    /// A map from `(key, value)` pairs.
    pub fn map<K: Into<String>>(entries: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Map(entries.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// Appends the encoding of this value.
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), Error> {
        match self {
            Value::String(s) => {
                put_control(out, ty::STRING, s.len())?;
                out.extend_from_slice(s.as_bytes());
            }
            Value::Double(d) => {
                put_control(out, ty::DOUBLE, 8)?;
                out.extend_from_slice(&d.to_be_bytes());
            }
            Value::Float(f) => {
                put_control(out, ty::FLOAT, 4)?;
                out.extend_from_slice(&f.to_be_bytes());
            }
            Value::U16(n) => put_uint(out, ty::UINT16, u64::from(*n))?,
            Value::U32(n) => put_uint(out, ty::UINT32, u64::from(*n))?,
            Value::U64(n) => put_uint(out, ty::UINT64, *n)?,
            Value::I32(n) => {
                put_control(out, ty::INT32, 4)?;
                out.extend_from_slice(&n.to_be_bytes());
            }
            Value::Bool(b) => put_control(out, ty::BOOLEAN, usize::from(*b))?,
            Value::Map(map) => {
                put_control(out, ty::MAP, map.len())?;
                for (key, value) in map {
                    put_control(out, ty::STRING, key.len())?;
                    out.extend_from_slice(key.as_bytes());
                    value.encode(out)?;
                }
            }
            Value::Array(items) => {
                put_control(out, ty::ARRAY, items.len())?;
                for item in items {
                    item.encode(out)?;
                }
            }
        }
        Ok(())
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}

impl From<f64> for Value {
    fn from(d: f64) -> Value {
        Value::Double(d)
    }
}

/// Control byte(s): type in the top three bits (or 0 plus an extended-type byte for types above 7),
/// size in the low five bits with 1 to 3 extension bytes for large sizes.
fn put_control(out: &mut Vec<u8>, type_num: u8, size: usize) -> Result<(), Error> {
    if size > ENCODED_SIZE_MAX {
        return Err(Error::TooLarge {
            reason: format!("a value of {size} bytes or entries, at most {ENCODED_SIZE_MAX}"),
        });
    }
    // Each arm's subtraction leaves a value that fits the bytes it is written in (checked above).
    let (size_bits, extension, extension_len): (u8, [u8; 3], usize) = match size {
        0..=28 => (size as u8, [0; 3], 0),
        29..=284 => (29, [(size - 29) as u8, 0, 0], 1),
        285..=65_820 => {
            let [hi, lo] = ((size - 285) as u16).to_be_bytes();
            (30, [hi, lo, 0], 2)
        }
        _ => {
            let [_, a, b, c] = ((size - 65_821) as u32).to_be_bytes();
            (31, [a, b, c], 3)
        }
    };
    if type_num <= 7 {
        out.push(type_num << 5 | size_bits);
    } else {
        out.push(size_bits);
        out.push(type_num - 7);
    }
    out.extend_from_slice(&extension[..extension_len]);
    Ok(())
}

/// Unsigned integers take as many bytes as their value needs (zero takes none).
fn put_uint(out: &mut Vec<u8>, type_num: u8, n: u64) -> Result<(), Error> {
    let bytes = n.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    put_control(out, type_num, bytes.len() - skip)?;
    out.extend_from_slice(&bytes[skip..]);
    Ok(())
}

/// Bits per search-tree record. The writer picks the smallest that fits; this sets a floor
/// (readers must handle all three, and tests exercise each layout).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RecordSize {
    /// 6 bytes per node.
    Bits24,
    /// 7 bytes per node, the middle byte shared.
    Bits28,
    /// 8 bytes per node.
    Bits32,
}

impl RecordSize {
    fn bits(self) -> u16 {
        match self {
            RecordSize::Bits24 => 24,
            RecordSize::Bits28 => 28,
            RecordSize::Bits32 => 32,
        }
    }
}

/// One side of a search-tree node while building.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Empty,
    Node(u32),
    /// Index into the distinct encoded values.
    Data(u32),
}

/// Builds a MaxMind DB in memory: insert networks, then [`MmdbWriter::to_bytes`] or
/// [`MmdbWriter::write_to`].
#[derive(Debug)]
pub struct MmdbWriter {
    database_type: String,
    description: BTreeMap<String, String>,
    languages: Vec<String>,
    build_epoch: u64,
    record_size_min: RecordSize,
    /// `(prefix length, network address)` in the IPv6 tree -> value id. Sorted least specific first.
    networks: BTreeMap<(u8, u128), u32>,
    /// Distinct encoded values -> their id.
    value_ids: HashMap<Vec<u8>, u32>,
}

impl MmdbWriter {
    /// An empty database of `database_type` (e.g. `svea-City`), built at `build_epoch` (seconds
    /// since 1970; pass a fixed value, not the clock, for reproducible files).
    pub fn new(database_type: impl Into<String>, build_epoch: u64) -> MmdbWriter {
        MmdbWriter {
            database_type: database_type.into(),
            description: BTreeMap::new(),
            languages: Vec::new(),
            build_epoch,
            record_size_min: RecordSize::Bits24,
            networks: BTreeMap::new(),
            value_ids: HashMap::new(),
        }
    }

    /// Sets the description in `language` (e.g. `en`).
    pub fn description(
        &mut self,
        language: impl Into<String>,
        text: impl Into<String>,
    ) -> &mut Self {
        self.description.insert(language.into(), text.into());
        self
    }

    /// Sets the build time, seconds since 1970.
    pub fn build_epoch(&mut self, build_epoch: u64) -> &mut Self {
        self.build_epoch = build_epoch;
        self
    }

    /// Uses records of at least `size` bits, even when smaller ones would do.
    pub fn record_size_at_least(&mut self, size: RecordSize) -> &mut Self {
        self.record_size_min = size;
        self
    }

    /// Sets the languages the database's `names` maps carry.
    pub fn languages(
        &mut self,
        languages: impl IntoIterator<Item = impl Into<String>>,
    ) -> &mut Self {
        self.languages = languages.into_iter().map(Into::into).collect();
        self
    }

    /// Maps `network` to `value`. Host bits are ignored; inserting the same network again replaces
    /// its value. An IPv4-mapped IPv6 network (`::ffff:a.b.c.d/n`, n >= 96) is the IPv4 network.
    pub fn insert(&mut self, network: IpNetwork, value: &Value) -> Result<(), Error> {
        let mut encoded = Vec::new();
        value.encode(&mut encoded)?;
        let next_id = u32::try_from(self.value_ids.len()).map_err(|_| Error::TooLarge {
            reason: "more than 2^32 distinct values".to_owned(),
        })?;
        let id = *self.value_ids.entry(encoded).or_insert(next_id);
        self.networks.insert(tree_key(network), id);
        Ok(())
    }

    /// How many networks are inserted (after replacements).
    pub fn len(&self) -> usize {
        self.networks.len()
    }

    /// Whether nothing is inserted.
    pub fn is_empty(&self) -> bool {
        self.networks.is_empty()
    }

    /// How many distinct values the inserted networks use (before unreferenced ones are dropped).
    pub fn distinct_values(&self) -> usize {
        self.value_ids.len()
    }

    /// The complete database file.
    pub fn to_bytes(&self) -> Result<Vec<u8>, Error> {
        let mut tree = Tree::new();
        for (&(prefix, addr), &id) in &self.networks {
            tree.insert(prefix, addr, id);
        }
        tree.collapse(0);
        tree.alias_ipv4_mapped();
        self.serialize(&tree)
    }

    /// Writes the database to `path` atomically (a temporary file in the same folder, then rename),
    /// so a process watching `path` never sees half a file.
    pub fn write_to(&self, path: &Path) -> Result<u64, Error> {
        let bytes = self.to_bytes()?;
        let tmp = temp_path_for(path);
        let write = || -> std::io::Result<()> {
            let mut file = fs::File::create(&tmp)?;
            file.write_all(&bytes)?;
            file.sync_all()
        };
        if let Err(e) = write() {
            let _ = fs::remove_file(&tmp);
            return Err(Error::io(&tmp, "write", e));
        }
        fs::rename(&tmp, path).map_err(|e| {
            let _ = fs::remove_file(&tmp);
            Error::io(path, "rename", e)
        })?;
        Ok(bytes.len() as u64)
    }

    fn serialize(&self, tree: &Tree) -> Result<Vec<u8>, Error> {
        let too_large = |what: &str| Error::TooLarge {
            reason: format!("{what} do not fit 32-bit search-tree records"),
        };
        let mut values: Vec<&[u8]> = vec![&[]; self.value_ids.len()];
        for (bytes, &id) in &self.value_ids {
            values[id as usize] = bytes;
        }

        // Number the reachable nodes breadth first (the tree is a DAG once the IPv4-mapped alias
        // shares the IPv4 subtree), and lay out the values in the order they are first reached.
        let mut number: HashMap<u32, u32> = HashMap::new();
        let mut order: Vec<u32> = Vec::new();
        let mut queue = VecDeque::from([0_u32]);
        number.insert(0, 0);
        let mut offsets: HashMap<u32, usize> = HashMap::new();
        let mut data: Vec<u8> = Vec::new();
        while let Some(old) = queue.pop_front() {
            order.push(old);
            for slot in tree.nodes[old as usize] {
                match slot {
                    Slot::Node(child) if !number.contains_key(&child) => {
                        let next = u32::try_from(number.len()).map_err(|_| too_large("nodes"))?;
                        number.insert(child, next);
                        queue.push_back(child);
                    }
                    Slot::Data(id) if !offsets.contains_key(&id) => {
                        offsets.insert(id, data.len());
                        data.extend_from_slice(values[id as usize]);
                    }
                    _ => {}
                }
            }
        }
        let node_count = u32::try_from(order.len()).map_err(|_| too_large("nodes"))?;
        let record_max =
            u64::from(node_count) + DATA_SECTION_SEPARATOR_LEN as u64 + data.len() as u64;
        let needed = match record_max {
            m if m < 1 << 24 => RecordSize::Bits24,
            m if m < 1 << 28 => RecordSize::Bits28,
            m if m <= u64::from(u32::MAX) => RecordSize::Bits32,
            _ => return Err(too_large("nodes and data")),
        };
        let record_size = needed.max(self.record_size_min).bits();
        let record = |slot: Slot| -> u32 {
            match slot {
                Slot::Empty => node_count,
                Slot::Node(old) => number[&old],
                // Checked against record_max above, so the sum fits.
                Slot::Data(id) => {
                    node_count + DATA_SECTION_SEPARATOR_LEN as u32 + offsets[&id] as u32
                }
            }
        };

        let mut out =
            Vec::with_capacity(order.len() * usize::from(record_size) / 4 + data.len() + 512);
        for old in &order {
            let [left, right] = tree.nodes[*old as usize];
            put_node(&mut out, record_size, record(left), record(right));
        }
        out.extend_from_slice(&[0; DATA_SECTION_SEPARATOR_LEN]);
        out.extend_from_slice(&data);
        out.extend_from_slice(METADATA_MARKER);
        self.metadata(node_count, record_size).encode(&mut out)?;
        Ok(out)
    }

    fn metadata(&self, node_count: u32, record_size: u16) -> Value {
        let description = self
            .description
            .iter()
            .map(|(lang, text)| (lang.clone(), Value::from(text.as_str())));
        Value::map([
            ("binary_format_major_version", Value::U16(2)),
            ("binary_format_minor_version", Value::U16(0)),
            ("build_epoch", Value::U64(self.build_epoch)),
            ("database_type", Value::from(self.database_type.as_str())),
            ("description", Value::map(description)),
            ("ip_version", Value::U16(6)),
            (
                "languages",
                Value::Array(
                    self.languages
                        .iter()
                        .map(|l| Value::from(l.as_str()))
                        .collect(),
                ),
            ),
            ("node_count", Value::U32(node_count)),
            ("record_size", Value::U16(record_size)),
        ])
    }
}

/// `path` with a hidden temporary name in the same folder (so the rename stays on one filesystem).
fn temp_path_for(path: &Path) -> std::path::PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "geoip.mmdb".to_owned());
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// `network` as `(prefix length, masked address)` in the IPv6 tree.
fn tree_key(network: IpNetwork) -> (u8, u128) {
    let (prefix, addr) = match network {
        IpNetwork::V4(net) => (IPV4_DEPTH + net.prefix(), u128::from(u32::from(net.ip()))),
        IpNetwork::V6(net) => {
            let addr = u128::from(net.ip());
            match net.ip().to_ipv4_mapped() {
                Some(v4) if net.prefix() >= IPV4_DEPTH => (net.prefix(), u128::from(u32::from(v4))),
                _ => (net.prefix(), addr),
            }
        }
    };
    let mask = if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(prefix))
    };
    (prefix, addr & mask)
}

/// Bit `depth` (0 = most significant) of a 128-bit address.
fn bit(addr: u128, depth: u8) -> usize {
    ((addr >> (127 - u32::from(depth))) & 1) as usize
}

fn put_node(out: &mut Vec<u8>, record_size: u16, left: u32, right: u32) {
    match record_size {
        24 => {
            out.extend_from_slice(&left.to_be_bytes()[1..]);
            out.extend_from_slice(&right.to_be_bytes()[1..]);
        }
        28 => {
            // The middle byte carries the top nibble of each record: left's high, right's low.
            out.extend_from_slice(&left.to_be_bytes()[1..]);
            out.push(((left >> 20) & 0xF0) as u8 | ((right >> 24) & 0x0F) as u8);
            out.extend_from_slice(&right.to_be_bytes()[1..]);
        }
        _ => {
            out.extend_from_slice(&left.to_be_bytes());
            out.extend_from_slice(&right.to_be_bytes());
        }
    }
}

/// The binary search tree while building: node 0 is the root.
struct Tree {
    nodes: Vec<[Slot; 2]>,
}

impl Tree {
    fn new() -> Tree {
        Tree {
            nodes: vec![[Slot::Empty; 2]],
        }
    }

    fn push(&mut self, children: [Slot; 2]) -> u32 {
        self.nodes.push(children);
        // The writer refuses more than u32::MAX nodes when it serializes; building that many would
        // need far more memory than any city database.
        u32::try_from(self.nodes.len() - 1).expect("fewer than 2^32 tree nodes")
    }

    /// The child node behind `slot` of `node`, created if missing. A data leaf on the way is split
    /// into two copies, so the more specific network inserted below keeps the rest of it.
    fn descend(&mut self, node: u32, side: usize) -> u32 {
        match self.nodes[node as usize][side] {
            Slot::Node(child) => child,
            Slot::Empty => {
                let child = self.push([Slot::Empty; 2]);
                self.nodes[node as usize][side] = Slot::Node(child);
                child
            }
            Slot::Data(id) => {
                let child = self.push([Slot::Data(id); 2]);
                self.nodes[node as usize][side] = Slot::Node(child);
                child
            }
        }
    }

    /// Inserts `addr/prefix` -> `id`. Callers insert least specific first, so the slot at `prefix`
    /// never already holds a more specific subtree.
    fn insert(&mut self, prefix: u8, addr: u128, id: u32) {
        if prefix == 0 {
            self.nodes[0] = [Slot::Data(id); 2];
            return;
        }
        let mut node = 0;
        for depth in 0..prefix - 1 {
            node = self.descend(node, bit(addr, depth));
        }
        let slot = &mut self.nodes[node as usize][bit(addr, prefix - 1)];
        assert!(
            !matches!(slot, Slot::Node(_)),
            "networks are inserted least specific first"
        );
        *slot = Slot::Data(id);
    }

    /// Replaces every subtree whose leaves all hold the same value by that value (two /25s with
    /// the same city become one /24). Returns what `node` collapsed to; the root stays a node.
    fn collapse(&mut self, node: u32) -> Slot {
        let mut children = self.nodes[node as usize];
        for child in &mut children {
            if let Slot::Node(n) = *child {
                *child = self.collapse(n);
            }
        }
        self.nodes[node as usize] = children;
        match children {
            [Slot::Data(a), Slot::Data(b)] if a == b && node != 0 => Slot::Data(a),
            _ => Slot::Node(node),
        }
    }

    /// The slot at `addr/prefix` (prefix >= 1), if the path to it exists.
    fn slot_at(&self, prefix: u8, addr: u128) -> Option<Slot> {
        let mut node = 0;
        for depth in 0..prefix - 1 {
            match self.nodes[node as usize][bit(addr, depth)] {
                Slot::Node(child) => node = child,
                _ => return None,
            }
        }
        Some(self.nodes[node as usize][bit(addr, prefix - 1)])
    }

    /// Points `::ffff:0:0/96` at the IPv4 subtree `::/96`, so IPv4-mapped IPv6 addresses find
    /// the IPv4 records. Readers recognise the shared subtree and skip it when iterating.
    fn alias_ipv4_mapped(&mut self) {
        let Some(ipv4) = self.slot_at(IPV4_DEPTH, 0) else {
            return;
        };
        if ipv4 == Slot::Empty {
            return;
        }
        let mapped = u128::from(Ipv6Addr::from([0, 0, 0, 0, 0, 0xffff, 0, 0]));
        let mut node = 0;
        for depth in 0..IPV4_DEPTH - 1 {
            node = self.descend(node, bit(mapped, depth));
        }
        self.nodes[node as usize][bit(mapped, IPV4_DEPTH - 1)] = ipv4;
    }
}
