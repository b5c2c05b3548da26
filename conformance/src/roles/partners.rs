//! The server role's WINS replication partners: a script's `replica` step pushes a record
//! to the target as one of them (MS-WINSRA 3.1.4: an update notification, after which the
//! target pulls over the same association). Versions are the runner's, one increasing
//! counter per owner for the whole run; the pushes of one owner are serialised (scripts run
//! in parallel, and a target ignores a version below one it has already pulled).

use crate::script::steps::Replica;
use nbns_reference::replication::conn::{self as partner, Conn, RecordStore};
use nbns_wire::wrepl::{
    AddressPair, Flags, NodeType, OwnedNameRecord, OwnedRecordName, RecordType, UpdateKind,
    RECORD_RESERVED,
};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Mutex;
use std::time::Duration;

/// Partner addresses of the server role when `--partner-addr` gives none: loopback
/// addresses that are neither the embedded target's nor the runner's clients (nor the
/// replication role's partners, whose listeners a concurrent run may have open).
pub const DEFAULT_PARTNERS: [Ipv4Addr; 2] =
    [Ipv4Addr::new(127, 0, 0, 7), Ipv4Addr::new(127, 0, 0, 8)];

/// How long a push waits for the target to pull and stop: a target that challenges the
/// holders of its own record before it stores the replica (Samba) answers only after the
/// challenge.
const PUSH_WAIT: Duration = Duration::from_secs(40);

/// The version a `target-owner` push lists for the target: above any it has given in a run.
const TARGET_OWNER_VERSION: u64 = 1 << 40;

/// The runner's replication partners of one run.
#[derive(Debug)]
pub struct Partners {
    /// Their addresses (`partner1`...); each is also the owner id of the records it owns.
    pub addrs: Vec<Ipv4Addr>,
    /// The target's replication endpoint (TCP 42).
    pub wrepl: SocketAddrV4,
    /// Per partner: the next version of its records, under the lock that serialises its
    /// pushes.
    next: Vec<Mutex<u64>>,
}

impl Partners {
    /// Partners `addrs` of the target at `wrepl`; the versions start above the ones the
    /// target's owner-version map gives (when it answers as a partner).
    pub fn new(addrs: Vec<Ipv4Addr>, wrepl: SocketAddrV4) -> Partners {
        let map = addrs.first().and_then(|&from| {
            partner::session(Some(from), wrepl, Duration::from_secs(2), |c| c.owner_map()).ok()
        });
        let next = addrs
            .iter()
            .map(|a| {
                let max = map
                    .iter()
                    .flatten()
                    .find(|o| o.address == *a)
                    .map_or(0, |o| o.max_version);
                Mutex::new(max + 1)
            })
            .collect();
        Partners { addrs, wrepl, next }
    }

    /// Pushes `r` with the owner's next version and waits until the target pulled it.
    pub fn push(&self, r: &Replica) -> Result<(), String> {
        let owner = self.addrs[r.owner];
        let from = self.addrs[r.from];
        let mut next = self.next[r.owner].lock().unwrap_or_else(|p| p.into_inner());
        let version = *next;
        // Taken whatever happens: a target may have stored it before failing.
        *next += 1;
        let single = match r.kind {
            RecordType::Group => r.addrs.first().copied().unwrap_or(Ipv4Addr::BROADCAST),
            _ => r.addrs.first().copied().unwrap_or(Ipv4Addr::UNSPECIFIED),
        };
        let rec = OwnedNameRecord {
            name: OwnedRecordName::Netbios {
                name: r.name.name,
                scope: r.name.scope.as_bytes().to_vec(),
            },
            // L (MS-WINSRA 2.2.10.1): set on a record the sender passes on for its owner.
            flags: Flags::new(r.kind, r.state, NodeType::H, r.is_static, from != owner),
            group: u32::from(r.kind.is_group()),
            version,
            addresses: if r.kind.has_address_list() {
                r.addrs
                    .iter()
                    .enumerate()
                    .map(|(i, &address)| AddressPair {
                        owner: r.owners.as_ref().map_or(owner, |o| o[i]),
                        address,
                    })
                    .collect()
            } else {
                Vec::new()
            },
            single,
            reserved: RECORD_RESERVED,
        };
        let mut store = RecordStore::default();
        let target = *self.wrepl.ip();
        if r.target_owner {
            // A copy of the record under the target's ownership, at a version above any the
            // target has given: what a partner that pulled the target's records lists.
            let mut own = rec.clone();
            own.version = TARGET_OWNER_VERSION;
            own.flags = Flags::new(r.kind, r.state, NodeType::H, r.is_static, true);
            for a in &mut own.addresses {
                a.owner = target;
            }
            store.add(target, own);
        }
        store.add(owner, rec);
        let mut c = Conn::connect(Some(from), self.wrepl, partner::DEFAULT_TIMEOUT)
            .map_err(|e| format!("no replication session with {}: {e}", self.wrepl))?;
        let report = c
            .start_association()
            .and_then(|()| c.push(UpdateKind::Update, from, &store, None, PUSH_WAIT))
            .map_err(|e| format!("push of {owner}'s version {version} from {from}: {e}"))?;
        let _ = c.stop();
        let asked = report
            .requests
            .iter()
            .any(|&(o, min, max)| o == owner && min <= version && (max == 0 || version <= max));
        if r.target_owner && report.requests.iter().any(|&(o, ..)| o == target) {
            // MS-WINSRA 3.2.5.1: a pull asks for records the puller does not have; its own
            // are current by definition, the owner alone giving their versions (3.1.1.2).
            return Err(format!(
                "the target pulled its own records (owner {target}) back from partner {from} (its send-entries requests: {:?})",
                report.requests
            ));
        }
        if asked {
            Ok(())
        } else {
            Err(format!(
                "the target did not pull {owner}'s version {version} after the update notification (its send-entries requests: {:?})",
                report.requests
            ))
        }
    }
}
