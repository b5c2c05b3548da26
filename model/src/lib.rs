//! A model of NetBIOS name service (NBNS / WINS): the WINS server, the NBT client and WINS
//! replication as deterministic state machines, plus stateright models that check them.
//!
//! * [`record`], [`conflict`], [`server`] and [`replication`], each building on the ones before:
//!   the database records, the replication conflict rules (pure), the WINS server state machine
//!   and pulling from partners. Independent of stateright; driven only by explicit inputs
//!   (packets, time), so a real server on UDP sockets can run the very same code.
//! * [`client`]: the NBT client (node types, primary/backup WINS, multihomed NICs, the local
//!   name table with reference counts). Also stateright-independent.
//! * [`world`]: servers, clients and an unordered network wired into one transition system;
//!   [`scenarios`] lists the configurations that are checked and binds them to stateright's
//!   [`Model`](stateright::Model) with their properties; [`trace`] renders states and steps.
//! * [`Bug`]/[`Bugs`]: the five Microsoft KB bugs as switches.
#![forbid(unsafe_code)]

pub mod check;
pub mod client;
pub mod conflict;
pub mod proto;
pub mod record;
pub mod replication;
pub mod scenarios;
pub mod server;
pub mod trace;
pub mod world;

use std::fmt;

/// One of the five KB bugs the model can switch on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Bug {
    /// M-node client swaps primary and backup WINS on a backup reply mid-registration; the names
    /// still queued at the "backup" stage go to the dead primary and are never registered.
    Q153073,
    /// An active multihomed replica does not replace an active multihomed replica of another
    /// owner: the pulling partner keeps the old addresses.
    Q135277,
    /// A datagram received before any session bumps the name's reference count, so the name
    /// survives the application's exit and the next start cannot add it again.
    Q124565,
    /// A multihomed host releases its name only from the primary NIC; the other NICs'
    /// addresses stay registered.
    Q184832,
    /// A static mapping is kept over a multihomed registration: the host gets a negative
    /// answer and its name goes into conflict (event 4320).
    Q164016,
}

impl Bug {
    /// All bugs, in KB article order of the seeds.
    pub const ALL: [Bug; 5] = [
        Bug::Q153073,
        Bug::Q135277,
        Bug::Q124565,
        Bug::Q184832,
        Bug::Q164016,
    ];

    /// The bugs of the WINS server's state machine (the others are a client's).
    pub const SERVER: [Bug; 2] = [Bug::Q135277, Bug::Q164016];

    /// The KB article title, for `list` and traces.
    pub fn title(self) -> &'static str {
        match self {
            Bug::Q153073 => "M-Node TCP/IP Clients Fail to Register All Names",
            Bug::Q135277 => "WINS Records of Multi-homed Computers Do Not Replicate",
            Bug::Q124565 => "TCP/IP-32 Leaves Names in the NetBIOS Name Table",
            Bug::Q184832 => "Intermittent Name Conflicts with WINS Server",
            Bug::Q164016 => "Event ID 4320: Duplicate Name on Network (static mapping)",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }

    /// Parses `Q153073`, `q153073` or `153073`.
    pub fn parse(s: &str) -> Option<Bug> {
        let t = s.trim_start_matches(['Q', 'q']);
        Bug::ALL.into_iter().find(|b| format!("{b:?}")[1..] == *t)
    }
}

impl fmt::Display for Bug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}

/// A set of switched-on bugs (a bitset; empty = every fix applied).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Bugs(u8);

impl Bugs {
    /// No bug: all fixes applied.
    pub const NONE: Bugs = Bugs(0);

    /// Is `bug` switched on?
    pub fn has(self, bug: Bug) -> bool {
        self.0 & bug.bit() != 0
    }

    /// This set with `bug` switched on.
    #[must_use]
    pub fn with(self, bug: Bug) -> Bugs {
        Bugs(self.0 | bug.bit())
    }

    /// The switched-on bugs.
    pub fn iter(self) -> impl Iterator<Item = Bug> {
        Bug::ALL.into_iter().filter(move |b| self.has(*b))
    }

    /// True when no bug is on.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl From<Bug> for Bugs {
    fn from(b: Bug) -> Bugs {
        Bugs::NONE.with(b)
    }
}

impl FromIterator<Bug> for Bugs {
    fn from_iter<I: IntoIterator<Item = Bug>>(bugs: I) -> Bugs {
        bugs.into_iter().fold(Bugs::NONE, Bugs::with)
    }
}

impl fmt::Display for Bugs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return write!(f, "none (all fixes)");
        }
        let v: Vec<String> = self.iter().map(|b| b.to_string()).collect();
        write!(f, "{}", v.join(","))
    }
}
