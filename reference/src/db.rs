//! The reference WINS server's durable database: its records, its owner address (`me`), the
//! highest version it knows per other owner and its own next version id, in one redb file.
//!
//! Durability: [`Db::write`] returns only after its transaction is committed with redb's
//! default immediate durability (fsync), so anything the server acknowledges after `write`
//! returned survives a crash or SIGKILL of the process. A batch is one transaction: after a
//! crash the file holds all of it or none of it.
//!
//! Layout (format 1, the `format` key of `meta`):
//! - `meta`: `&str -> u64`: `format`, `me` (IPv4 as u32; absent until first written) and
//!   `next_version`.
//! - `known`: owner IPv4 as u32 -> highest version known for that owner.
//! - `records`: key = the 16 raw name bytes then the scope's labels in wire form (nothing
//!   for no scope); value = the record encoded by hand (layout in the private `field` module), its first byte the
//!   value format, so the format can change without guessing. Decoding checks every length and enum byte: bad
//!   bytes give a "corrupt record" error, never a panic.

use crate::wire_name::WireName;
use nbns_model::proto::NodeType;
use nbns_model::server::{Kind, RecState, Record};
use nbns_wire::NetbiosName;
use redb::backends::InMemoryBackend;
use redb::{Builder, Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::fmt;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

/// A record as stored; `expires` is in UNIX seconds (the caller converts).
pub type DbRecord = Record<WireName, Ipv4Addr>;

const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const KNOWN: TableDefinition<u32, u64> = TableDefinition::new("known");
const RECORDS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("records");

/// The layout this build reads and writes (tables and key encoding).
const FORMAT: u64 = 1;
/// The encoding of a record value (its first byte): 3 stores each address
/// with its owner (MS-WINSRA 2.2.10.1) and, for a special group member
/// registered here, its expiry (0 for none: the member a full group gives
/// up first).
const VALUE_FORMAT: u8 = 3;
/// Earlier encodings, still read: 2 without member expiries, 1 also
/// without owners (the record's owner owns every address).
const VALUE_FORMAT_2: u8 = 2;
const VALUE_FORMAT_1: u8 = 1;

const KEY_FORMAT: &str = "format";
const KEY_ME: &str = "me";
const KEY_NEXT_VERSION: &str = "next_version";

/// Byte positions of a record value (format 1); multi-byte integers are big-endian.
mod field {
    use std::ops::Range;

    pub const FORMAT: usize = 0;
    pub const KIND: usize = 1;
    pub const STATE: usize = 2;
    /// Bit 0: static mapping.
    pub const FLAGS: usize = 3;
    pub const NODE: usize = 4;
    pub const OWNER: Range<usize> = 5..9;
    pub const VERSION: Range<usize> = 9..17;
    pub const EXPIRES: Range<usize> = 17..25;
    /// Number of addresses that follow: format 2, 8 bytes each (address,
    /// owner); format 1, 4 bytes each (address).
    pub const COUNT: Range<usize> = 25..27;
    pub const ADDRS: usize = 27;
}

const FLAG_STATIC: u8 = 1;

/// The server's durable store.
pub struct Db {
    db: Database,
    path: Option<PathBuf>,
}

/// A database failure; the message names the file.
#[derive(Debug)]
pub struct DbError(String);

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DbError {}

/// Everything the database holds, as [`Db::load`] returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The server's owner address, None until the first write.
    pub me: Option<Ipv4Addr>,
    /// The next version id to hand out: never one an earlier run used.
    pub next_version: u64,
    /// Highest version known per other owner, sorted by owner.
    pub known: Vec<(Ipv4Addr, u64)>,
    /// Every record, sorted by key (name bytes, then scope).
    pub records: Vec<DbRecord>,
}

/// Changes of one batch, written in one transaction.
#[derive(Debug, Clone)]
pub struct Batch {
    pub me: Ipv4Addr,
    pub next_version: u64,
    /// Replaces the whole stored owner-version map.
    pub known: Vec<(Ipv4Addr, u64)>,
    /// Records to insert or replace. A name in both `put` and `delete` ends up put: keeping a
    /// record a scavenger removes later is safer than losing an acknowledged one.
    pub put: Vec<DbRecord>,
    pub delete: Vec<WireName>,
}

// By hand: `Ipv4Addr` has no `Default`.
impl Default for Batch {
    fn default() -> Self {
        Batch {
            me: Ipv4Addr::UNSPECIFIED,
            next_version: 1,
            known: Vec::new(),
            put: Vec::new(),
            delete: Vec::new(),
        }
    }
}

/// Why an operation failed, before the path is added.
enum Fault {
    Redb(redb::Error),
    Corrupt(String),
    Invalid(String),
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for Fault {
            fn from(e: $t) -> Fault {
                Fault::Redb(e.into())
            }
        }
    )*};
}
from_redb!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

impl Db {
    /// Opens the database at `path`, creating the file if it is missing or empty; None keeps
    /// it in memory (nothing survives the process).
    pub fn open(path: Option<&Path>) -> Result<Db, DbError> {
        let shown = shown(path);
        let db = match path {
            None => Builder::new().create_with_backend(InMemoryBackend::new()),
            Some(p) => {
                if p.is_dir() {
                    return Err(DbError(format!("WINS database {shown}: is a directory")));
                }
                // A damaged file can make a plain open panic; the check (one read of the
                // whole file, milliseconds for a WINS-sized one) turns that into an error.
                Builder::new().set_check_integrity_on_open(true).create(p)
            }
        }
        .map_err(|e| DbError(format!("WINS database {shown}: {}", open_reason(e))))?;
        let db = Db {
            db,
            path: path.map(Path::to_path_buf),
        };
        db.init().map_err(|f| db.error("cannot initialise", f))?;
        Ok(db)
    }

    /// The file, None for an in-memory database.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Reads everything. An empty database gives no `me`, `next_version` 1 and nothing else.
    pub fn load(&self) -> Result<Stored, DbError> {
        self.load_inner().map_err(|f| self.error("cannot load", f))
    }

    /// Writes `batch` in one transaction and returns once it is committed and synced.
    pub fn write(&self, batch: &Batch) -> Result<(), DbError> {
        self.write_inner(batch)
            .map_err(|f| self.error("cannot write", f))
    }

    /// Creates the tables and stamps the format on a new file; refuses another format.
    fn init(&self) -> Result<(), Fault> {
        let tx = self.db.begin_write()?;
        let format = tx.open_table(META)?.get(KEY_FORMAT)?.map(|g| g.value());
        match format {
            Some(FORMAT) => {
                tx.abort()?; // the tables exist: nothing to sync
                return Ok(());
            }
            Some(other) => {
                return Err(Fault::Invalid(format!(
                    "format {other}, this build reads format {FORMAT} only"
                )))
            }
            None => {}
        }
        tx.open_table(META)?.insert(KEY_FORMAT, FORMAT)?;
        tx.open_table(KNOWN)?;
        tx.open_table(RECORDS)?;
        tx.commit()?;
        Ok(())
    }

    fn load_inner(&self) -> Result<Stored, Fault> {
        let tx = self.db.begin_read()?;
        let meta = tx.open_table(META)?;
        let me = meta.get(KEY_ME)?.map(|g| g.value());
        let me = match me {
            None => None,
            Some(v) => Some(ipv4_of(v).ok_or_else(|| corrupt("me", v))?),
        };
        let stored_next = meta.get(KEY_NEXT_VERSION)?.map_or(1, |g| g.value());

        let mut known = Vec::new();
        for entry in tx.open_table(KNOWN)?.iter()? {
            let (owner, version) = entry?;
            known.push((Ipv4Addr::from(owner.value()), version.value()));
        }

        let mut records = Vec::new();
        for entry in tx.open_table(RECORDS)?.iter()? {
            let (key, value) = entry?;
            let name = decode_key(key.value()).map_err(Fault::Corrupt)?;
            let rec = decode_value(name, value.value()).map_err(Fault::Corrupt)?;
            records.push(rec);
        }

        // A version of ours found in a record was handed out, whatever `next_version` says.
        let own_max = records
            .iter()
            .filter(|r| Some(r.owner) == me)
            .map(|r| r.version)
            .max();
        let next_version = own_max.map_or(stored_next, |v| stored_next.max(v.saturating_add(1)));
        Ok(Stored {
            me,
            next_version,
            known,
            records,
        })
    }

    fn write_inner(&self, batch: &Batch) -> Result<(), Fault> {
        let tx = self.db.begin_write()?;
        {
            let mut meta = tx.open_table(META)?;
            meta.insert(KEY_ME, u64::from(u32::from(batch.me)))?;
            meta.insert(KEY_NEXT_VERSION, batch.next_version)?;

            let mut known = tx.open_table(KNOWN)?;
            known.retain(|_, _| false)?;
            for (owner, version) in &batch.known {
                known.insert(u32::from(*owner), *version)?;
            }

            let mut records = tx.open_table(RECORDS)?;
            for name in &batch.delete {
                records.remove(encode_key(name).as_slice())?;
            }
            for rec in &batch.put {
                let value = encode_value(rec).map_err(Fault::Invalid)?;
                records.insert(encode_key(&rec.name).as_slice(), value.as_slice())?;
            }
        }
        // Immediate durability is redb's default: commit returns after fsync.
        tx.commit()?;
        Ok(())
    }

    fn error(&self, doing: &str, fault: Fault) -> DbError {
        let detail = match fault {
            Fault::Redb(e) => e.to_string(),
            Fault::Corrupt(s) | Fault::Invalid(s) => s,
        };
        DbError(format!(
            "WINS database {}: {doing}: {detail}",
            shown(self.path())
        ))
    }
}

/// How a path appears in messages.
fn shown(path: Option<&Path>) -> String {
    path.map_or_else(|| "(in memory)".to_owned(), |p| p.display().to_string())
}

/// The reasons an open fails, in the words an operator needs.
fn open_reason(e: redb::DatabaseError) -> String {
    use redb::{DatabaseError as D, StorageError as S};
    match e {
        D::DatabaseAlreadyOpen => {
            "already open (another process, or another handle in this one, holds it)".into()
        }
        D::Storage(S::Io(io)) if io.kind() == std::io::ErrorKind::NotFound => {
            format!("cannot open: {io} (does the directory exist?)")
        }
        D::Storage(S::Io(io)) => format!("cannot open: {io}"),
        D::Storage(S::Corrupted(why)) => format!("not a redb database, or damaged: {why}"),
        other => format!("cannot open: {other}"),
    }
}

fn corrupt(what: &str, value: impl fmt::Display) -> Fault {
    Fault::Corrupt(format!("corrupt {what}: {value}"))
}

fn ipv4_of(v: u64) -> Option<Ipv4Addr> {
    u32::try_from(v).ok().map(Ipv4Addr::from)
}

fn encode_key(name: &WireName) -> Vec<u8> {
    let mut key = Vec::with_capacity(16 + name.scope_wire().len());
    key.extend_from_slice(name.name.as_bytes());
    key.extend_from_slice(name.scope_wire());
    key
}

fn decode_key(key: &[u8]) -> Result<WireName, String> {
    let bad = |why: &str| format!("corrupt record key {key:02x?}: {why}");
    let (raw, scope) = match (key.get(..16), key.get(16..)) {
        (Some(raw), Some(scope)) => (raw, scope),
        _ => return Err(bad("shorter than 16 bytes")),
    };
    let mut bytes = [0; 16];
    bytes.copy_from_slice(raw);
    WireName::with_scope_wire(NetbiosName::from_bytes(bytes), scope)
        .ok_or_else(|| bad("the scope is not a sequence of labels"))
}

fn encode_value(rec: &DbRecord) -> Result<Vec<u8>, String> {
    let count = u16::try_from(rec.addrs.len()).map_err(|_| {
        format!(
            "record {} has {} addresses, more than a record can store",
            &rec.name,
            rec.addrs.len()
        )
    })?;
    let mut v = Vec::with_capacity(field::ADDRS + 16 * rec.addrs.len());
    v.push(VALUE_FORMAT);
    v.push(kind_byte(rec.kind));
    v.push(state_byte(rec.state));
    v.push(if rec.is_static { FLAG_STATIC } else { 0 });
    v.push(rec.node as u8);
    v.extend_from_slice(&rec.owner.octets());
    v.extend_from_slice(&rec.version.to_be_bytes());
    v.extend_from_slice(&rec.expires.to_be_bytes());
    v.extend_from_slice(&count.to_be_bytes());
    for (a, owner) in rec.addr_owners() {
        let expiry = rec
            .member_expiry
            .iter()
            .find(|(x, _)| *x == a)
            .map_or(0, |&(_, t)| t);
        v.extend_from_slice(&a.octets());
        v.extend_from_slice(&owner.octets());
        v.extend_from_slice(&expiry.to_be_bytes());
    }
    Ok(v)
}

fn decode_value(name: WireName, v: &[u8]) -> Result<DbRecord, String> {
    let bad = |why: String| format!("corrupt record {}: {why}", &name);
    let entry = match v.get(field::FORMAT) {
        None => return Err(bad("empty value".into())),
        Some(&VALUE_FORMAT) => 16,
        Some(&VALUE_FORMAT_2) => 8,
        Some(&VALUE_FORMAT_1) => 4,
        Some(other) => return Err(bad(format!("unknown value format {other}"))),
    };
    if v.len() < field::ADDRS {
        return Err(bad(format!("{} bytes, shorter than the header", v.len())));
    }
    // From here on every fixed field is in bounds.
    let count = usize::from(u16::from_be_bytes([v[field::COUNT][0], v[field::COUNT][1]]));
    if v.len() != field::ADDRS + entry * count {
        return Err(bad(format!(
            "{} bytes for {count} addresses, expected {}",
            v.len(),
            field::ADDRS + entry * count
        )));
    }
    let kind = kind_of(v[field::KIND]).ok_or_else(|| bad(format!("kind {}", v[field::KIND])))?;
    let state =
        state_of(v[field::STATE]).ok_or_else(|| bad(format!("state {}", v[field::STATE])))?;
    let flags = v[field::FLAGS];
    if flags & !FLAG_STATIC != 0 {
        return Err(bad(format!("flags {flags:#04x}")));
    }
    let node = node_of(v[field::NODE]).ok_or_else(|| bad(format!("node {}", v[field::NODE])))?;
    let owner = ipv4_at(&v[field::OWNER]);
    let pairs: Vec<(Ipv4Addr, Ipv4Addr)> = v[field::ADDRS..]
        .chunks_exact(entry)
        .map(|e| match e.split_at(4) {
            (a, []) => (ipv4_at(a), owner),
            (a, o) => (ipv4_at(a), ipv4_at(&o[..4])),
        })
        .collect();
    let expiries: Vec<(Ipv4Addr, u64)> = if entry == 16 {
        v[field::ADDRS..]
            .chunks_exact(entry)
            .map(|e| (ipv4_at(&e[..4]), u64_at(&e[8..16])))
            .filter(|&(_, t)| t != 0)
            .collect()
    } else {
        Vec::new()
    };
    let mut rec = Record {
        name,
        kind,
        state,
        is_static: flags & FLAG_STATIC != 0,
        node,
        addrs: Default::default(),
        other_owners: Default::default(),
        member_expiry: Default::default(),
        owner,
        version: u64_at(&v[field::VERSION]),
        expires: u64_at(&v[field::EXPIRES]),
    };
    rec.set_addr_owners(pairs);
    for (a, t) in expiries {
        rec.set_member_expiry(a, t);
    }
    if rec.addrs.len() != count {
        return Err(format!(
            "corrupt record {}: an address is stored twice",
            rec.name
        ));
    }
    Ok(rec)
}

/// Reads 4 bytes; the caller passes a slice of exactly 4.
fn ipv4_at(b: &[u8]) -> Ipv4Addr {
    let mut o = [0; 4];
    o.copy_from_slice(b);
    Ipv4Addr::from(o)
}

/// Reads 8 big-endian bytes; the caller passes a slice of exactly 8.
fn u64_at(b: &[u8]) -> u64 {
    let mut o = [0; 8];
    o.copy_from_slice(b);
    u64::from_be_bytes(o)
}

// Fixed numbers, not the enums' declaration order: reordering an enum must not change the file.
fn kind_byte(k: Kind) -> u8 {
    match k {
        Kind::Unique => 0,
        Kind::Group => 1,
        Kind::SpecialGroup => 2,
        Kind::Multihomed => 3,
    }
}

fn kind_of(b: u8) -> Option<Kind> {
    Some(match b {
        0 => Kind::Unique,
        1 => Kind::Group,
        2 => Kind::SpecialGroup,
        3 => Kind::Multihomed,
        _ => return None,
    })
}

fn state_byte(s: RecState) -> u8 {
    match s {
        RecState::Active => 0,
        RecState::Released => 1,
        RecState::Tombstone => 2,
    }
}

fn state_of(b: u8) -> Option<RecState> {
    Some(match b {
        0 => RecState::Active,
        1 => RecState::Released,
        2 => RecState::Tombstone,
        _ => return None,
    })
}

/// The node type byte is the ONT value (RFC 1002), fixed by the protocol.
fn node_of(b: u8) -> Option<NodeType> {
    Some(match b {
        0 => NodeType::B,
        1 => NodeType::P,
        2 => NodeType::M,
        3 => NodeType::H,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A file path unique to this test run, removed (with redb's file) on drop.
    struct TempPath(PathBuf);

    impl TempPath {
        fn new(tag: &str) -> TempPath {
            static N: AtomicUsize = AtomicUsize::new(0);
            let n = N.fetch_add(1, Ordering::Relaxed);
            let name = format!("nbns-db-{tag}-{}-{n}.redb", std::process::id());
            TempPath(std::env::temp_dir().join(name))
        }
    }

    impl Drop for TempPath {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
            let _ = std::fs::remove_dir(&self.0);
        }
    }

    fn name(s: &str, suffix: u8, scope: &str) -> WireName {
        WireName::with_dotted_scope(
            NetbiosName::new(s.as_bytes(), suffix).unwrap(),
            scope.as_bytes(),
        )
        .unwrap()
    }

    fn ip(last: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, 0, 0, last)
    }

    /// Every kind, state and node type, static or not, scoped or not, 0 to 6 addresses.
    fn sample_records() -> Vec<DbRecord> {
        let kinds = [
            Kind::Unique,
            Kind::Group,
            Kind::SpecialGroup,
            Kind::Multihomed,
        ];
        let states = [RecState::Active, RecState::Released, RecState::Tombstone];
        let nodes = [NodeType::B, NodeType::P, NodeType::M, NodeType::H];
        let mut out = Vec::new();
        let mut i = 0u8;
        for kind in kinds {
            for state in states {
                for node in nodes {
                    let n = usize::from(i % 7);
                    let mut r = Record {
                        name: name(
                            &format!("HOST{i}"),
                            i,
                            if i.is_multiple_of(2) {
                                ""
                            } else {
                                "corp.example"
                            },
                        ),
                        kind,
                        state,
                        is_static: i.is_multiple_of(3),
                        node,
                        addrs: (0..n)
                            .map(|k| Ipv4Addr::new(192, 168, i, k as u8))
                            .collect(),
                        other_owners: Default::default(),
                        member_expiry: Default::default(),
                        owner: ip(i % 3),
                        version: u64::from(i) << 33 | 7,
                        expires: 1_700_000_000 + u64::from(i),
                    };
                    // Lists whose addresses have owners of their own.
                    if n > 1 && matches!(kind, Kind::SpecialGroup | Kind::Multihomed) {
                        r.add_addr(Ipv4Addr::new(192, 168, i, 0), ip(7));
                    }
                    // Members registered here carry their expiry.
                    if n > 1 && kind == Kind::SpecialGroup {
                        r.set_member_expiry(Ipv4Addr::new(192, 168, i, 1), 1_800_000_000);
                    }
                    out.push(r);
                    i += 1;
                }
            }
        }
        out.push(Record {
            expires: u64::MAX,
            version: u64::MAX - 1,
            ..out[0].clone()
        });
        out.last_mut().unwrap().name = name("MAXED", 0x1c, "a.b.c");
        // A scope only replication carries (kept as received).
        out.push(Record {
            name: name("RAWSCOPE", 0x1c, &"s".repeat(237)),
            ..out[0].clone()
        });
        assert!(out.last().unwrap().name.is_raw());
        out
    }

    /// A value of format 1 (addresses without owners) still reads: the
    /// record's owner owns every address.
    #[test]
    fn format_1_values_still_read() {
        let n = || name("OLD", 0x1c, "");
        let mut v = vec![VALUE_FORMAT_1, kind_byte(Kind::SpecialGroup), 0, 0, 3];
        v.extend_from_slice(&[10, 0, 0, 9]);
        v.extend_from_slice(&5u64.to_be_bytes());
        v.extend_from_slice(&77u64.to_be_bytes());
        v.extend_from_slice(&2u16.to_be_bytes());
        v.extend_from_slice(&[192, 168, 0, 2, 192, 168, 0, 1]);
        let r = decode_value(n(), &v).unwrap();
        assert_eq!((r.owner, r.version, r.expires), (ip(9), 5, 77));
        let pairs: Vec<_> = r.addr_owners().collect();
        assert_eq!(
            pairs,
            [
                (Ipv4Addr::new(192, 168, 0, 1), ip(9)),
                (Ipv4Addr::new(192, 168, 0, 2), ip(9))
            ]
        );
        // Written back in the current format, owners included.
        let w = encode_value(&r).unwrap();
        assert_eq!(w[0], VALUE_FORMAT);
        assert_eq!(decode_value(n(), &w).unwrap(), r);
    }

    fn sorted(mut v: Vec<DbRecord>) -> Vec<DbRecord> {
        v.sort_by_key(|r| encode_key(&r.name));
        v
    }

    fn full_batch() -> Batch {
        Batch {
            me: ip(1),
            next_version: u64::MAX,
            known: vec![(ip(0), 5), (ip(2), 9)],
            put: sample_records(),
            delete: Vec::new(),
        }
    }

    #[test]
    fn round_trip_on_file() {
        let tmp = TempPath::new("round");
        let db = Db::open(Some(&tmp.0)).unwrap();
        assert_eq!(db.path(), Some(tmp.0.as_path()));
        let batch = full_batch();
        db.write(&batch).unwrap();
        let s = db.load().unwrap();
        assert_eq!(s.me, Some(ip(1)));
        assert_eq!(s.next_version, u64::MAX);
        assert_eq!(s.known, batch.known);
        assert_eq!(s.records, sorted(batch.put));
    }

    #[test]
    fn empty_database() {
        let tmp = TempPath::new("empty");
        let s = Db::open(Some(&tmp.0)).unwrap().load().unwrap();
        let want = Stored {
            me: None,
            next_version: 1,
            known: vec![],
            records: vec![],
        };
        assert_eq!(s, want);
    }

    #[test]
    fn reopen_keeps_everything() {
        let tmp = TempPath::new("reopen");
        let batch = full_batch();
        Db::open(Some(&tmp.0)).unwrap().write(&batch).unwrap();
        let s = Db::open(Some(&tmp.0)).unwrap().load().unwrap();
        assert_eq!(s.me, Some(ip(1)));
        assert_eq!(s.known, batch.known);
        assert_eq!(s.records, sorted(batch.put));
    }

    #[test]
    fn delete_removes_and_put_wins() {
        let db = Db::open(None).unwrap();
        let recs = sample_records();
        db.write(&Batch {
            put: recs.clone(),
            ..Batch::default()
        })
        .unwrap();
        let gone = recs[3].name.clone();
        let kept = recs[4].name.clone();
        let missing = name("NEVER", 0, "");
        db.write(&Batch {
            delete: vec![gone.clone(), kept.clone(), missing],
            put: vec![recs[4].clone()],
            ..Batch::default()
        })
        .unwrap();
        let names: Vec<_> = db
            .load()
            .unwrap()
            .records
            .into_iter()
            .map(|r| r.name)
            .collect();
        assert!(!names.contains(&gone));
        assert!(names.contains(&kept));
        assert_eq!(names.len(), recs.len() - 1);
    }

    #[test]
    fn known_is_replaced() {
        let db = Db::open(None).unwrap();
        let first = Batch {
            known: vec![(ip(7), 1), (ip(8), 2)],
            ..Batch::default()
        };
        db.write(&first).unwrap();
        let second = Batch {
            known: vec![(ip(8), 5)],
            ..Batch::default()
        };
        db.write(&second).unwrap();
        assert_eq!(db.load().unwrap().known, vec![(ip(8), 5)]);
    }

    #[test]
    fn in_memory_round_trip() {
        let db = Db::open(None).unwrap();
        assert_eq!(db.path(), None);
        let batch = full_batch();
        db.write(&batch).unwrap();
        assert_eq!(db.load().unwrap().records, sorted(batch.put));
    }

    #[test]
    fn next_version_passes_own_records() {
        let db = Db::open(None).unwrap();
        let mut own = sample_records()[0].clone();
        own.owner = ip(1);
        own.version = 41;
        let mut other = sample_records()[1].clone();
        other.owner = ip(2);
        other.version = 1000;
        db.write(&Batch {
            me: ip(1),
            next_version: 3,
            put: vec![own, other],
            ..Batch::default()
        })
        .unwrap();
        assert_eq!(db.load().unwrap().next_version, 42);
    }

    #[test]
    fn second_open_is_a_clear_error() {
        let tmp = TempPath::new("twice");
        let _held = Db::open(Some(&tmp.0)).unwrap();
        let e = Db::open(Some(&tmp.0))
            .err()
            .expect("second open must fail")
            .to_string();
        assert!(e.contains("already open"), "{e}");
        assert!(e.contains(&tmp.0.display().to_string()), "{e}");
    }

    #[test]
    fn garbage_file_is_a_clear_error() {
        for garbage in [&b"x"[..], &[0xa5; 100][..], &[7; 10_000][..]] {
            let tmp = TempPath::new("garbage");
            std::fs::write(&tmp.0, garbage).unwrap();
            let e = Db::open(Some(&tmp.0))
                .err()
                .expect("garbage must fail")
                .to_string();
            assert!(e.contains(&tmp.0.display().to_string()), "{e}");
        }
    }

    #[test]
    fn directory_and_missing_directory_are_clear_errors() {
        let dir = TempPath::new("dir");
        std::fs::create_dir(&dir.0).unwrap();
        let e = Db::open(Some(&dir.0)).err().unwrap().to_string();
        assert!(
            e.contains("is a directory") && e.contains(&dir.0.display().to_string()),
            "{e}"
        );

        let missing = TempPath::new("nodir");
        let inside = missing.0.join("wins.redb");
        let e = Db::open(Some(&inside)).err().unwrap().to_string();
        assert!(
            e.contains("does the directory exist") && e.contains(&inside.display().to_string()),
            "{e}"
        );
    }

    /// Single flipped bytes where redb 4.5 panicked on a plain open (allocator state, tree
    /// pages): with the integrity check on open each is an error or harmless, never a panic.
    #[test]
    fn damaged_file_does_not_panic() {
        let tmp = TempPath::new("damage");
        Db::open(Some(&tmp.0))
            .unwrap()
            .write(&full_batch())
            .unwrap();
        let good = std::fs::read(&tmp.0).unwrap();
        for off in [8245, 8924, 20564, 36957, 40546] {
            let Some(byte) = good.get(off) else { continue };
            let mut bad = good.clone();
            bad[off] = byte ^ 0x5a;
            std::fs::write(&tmp.0, &bad).unwrap();
            let path = tmp.0.clone();
            let got = std::panic::catch_unwind(move || Db::open(Some(&path))?.load());
            assert!(got.is_ok(), "panic on a byte flipped at {off}");
        }
    }

    #[test]
    fn other_format_is_refused() {
        let tmp = TempPath::new("format");
        {
            let db = Db::open(Some(&tmp.0)).unwrap();
            let tx = db.db.begin_write().unwrap();
            tx.open_table(META).unwrap().insert(KEY_FORMAT, 2).unwrap();
            tx.commit().unwrap();
        }
        let e = Db::open(Some(&tmp.0)).err().unwrap().to_string();
        assert!(e.contains("format 2"), "{e}");
    }

    #[test]
    fn corrupt_value_in_file_is_an_error_on_load() {
        let db = Db::open(None).unwrap();
        let tx = db.db.begin_write().unwrap();
        tx.open_table(RECORDS)
            .unwrap()
            .insert(&[b'A'; 16][..], &[1, 9][..])
            .unwrap();
        tx.commit().unwrap();
        let e = db.load().unwrap_err().to_string();
        assert!(e.contains("corrupt record"), "{e}");
    }

    #[test]
    fn key_decoder_rejects_short_and_non_utf8() {
        assert!(decode_key(&[0; 15]).is_err());
        assert!(decode_key(&[0; 16]).is_ok());
        let mut k = vec![0; 16];
        k.push(0xff);
        assert!(decode_key(&k).is_err());
    }

    /// Every truncation of a valid value fails, every single-byte change and pseudo-random
    /// garbage decodes or fails, and nothing panics.
    #[test]
    fn value_decoder_never_panics() {
        let n = || name("X", 0, "");
        for rec in sample_records() {
            let v = encode_value(&rec).unwrap();
            assert_eq!(decode_value(n(), &v).unwrap(), Record { name: n(), ..rec });
            for len in 0..v.len() {
                assert!(decode_value(n(), &v[..len]).is_err(), "truncated to {len}");
            }
            for i in 0..v.len() {
                for b in [0, 1, 2, 3, 4, 0x7f, 0x80, 0xff] {
                    let mut w = v.clone();
                    w[i] = b;
                    let _ = decode_value(n(), &w);
                }
            }
            let mut longer = v.clone();
            longer.push(0);
            assert!(decode_value(n(), &longer).is_err());
        }
        // xorshift: deterministic garbage of every length up to 64, well-formed first byte.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for round in 0..20_000 {
            let len = round % 64;
            let bytes: Vec<u8> = (0..len)
                .map(|i| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    if i == 0 {
                        VALUE_FORMAT
                    } else {
                        x as u8
                    }
                })
                .collect();
            let _ = decode_value(n(), &bytes);
        }
    }
}
