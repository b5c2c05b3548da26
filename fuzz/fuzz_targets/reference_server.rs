//! The reference WINS server (the model's state machine behind the NBNS
//! packet layer) fed hostile inputs in sequence: datagrams from four
//! sources, clock ticks, and WINS replication replies applied as pulls.
//! Input: steps of `[control, len_hi, len_lo, bytes...]`; the control
//! byte's low two bits pick the source (or the replica owner), bits 2-3
//! the kind of step (datagram, datagram, tick, replication frame) and the
//! high four bits how many seconds pass first.
//!
//! Checked after every step: nothing panics, every packet the server sends
//! parses, a step sends a bounded number of packets, and the database stays
//! sorted with one record per name.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nbns_reference::replication::records::from_wire;
use nbns_reference::{PacketConfig, PacketLayer};
use nbns_wire::nbns::Repr;
use nbns_wire::wrepl::{self, OwnedNameRecord, ParseOptions, Replication};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

const ME: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

fn source(sel: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 1, sel & 3)
}

fuzz_target!(|data: &[u8]| {
    let mut cfg = PacketConfig::new("FUZZ", ME);
    cfg.server.challenge_wait = 2;
    let mut server = PacketLayer::new(cfg.clone()).expect("valid config");
    let mut replies: Vec<(SocketAddr, Vec<u8>)> = Vec::new();
    let mut now = 1_000u64;
    let mut rest = data;
    while let Some((&[ctl, hi, lo], tail)) = rest.split_first_chunk::<3>() {
        let len = (usize::from(hi) << 8 | usize::from(lo)).min(tail.len());
        let (bytes, tail) = tail.split_at(len);
        rest = tail;
        now += u64::from(ctl >> 4);
        let from = source(ctl);
        let records = server.server().record_count();
        match (ctl >> 2) & 3 {
            0 | 1 => {
                let at = SocketAddr::V4(SocketAddrV4::new(from, 137));
                server.datagram(now, at, bytes, &mut replies);
            }
            2 => server.tick(now, &mut replies),
            _ => {
                let Ok(repr) = wrepl::Repr::parse_bytes(bytes, ParseOptions::default()) else {
                    continue;
                };
                let wrepl::Message::Replication(Replication::NameRecordsResponse(recs)) =
                    &repr.message
                else {
                    continue;
                };
                let recs: Vec<_> = recs
                    .iter()
                    .map(|r| OwnedNameRecord::from_record(&r))
                    .filter_map(|w| from_wire(&w, from, &cfg.server, now))
                    .collect();
                let max = recs.iter().map(|r| r.version).max().unwrap_or(0);
                let n = recs.len();
                server.apply_pulled(now, from, max, recs, &mut replies);
                // At most a challenge or release demand per address of a record.
                assert!(replies.len() <= 64 * (n + 1) + records, "{} packets", replies.len());
            }
        }
        // A datagram or tick: answers, WACKs, challenges and release demands,
        // at most a few per record.
        assert!(
            replies.len() <= 4 + 26 * (records + 1) * 2,
            "{} packets from one step",
            replies.len()
        );
        for (_, bytes) in replies.drain(..) {
            if let Err(e) = Repr::parse_bytes(&bytes) {
                panic!("the server sent a packet that does not parse: {e}: {bytes:02x?}");
            }
        }
        let db: Vec<_> = server.server().records().collect();
        assert!(
            db.windows(2).all(|w| w[0].name < w[1].name),
            "database not sorted by name, or a name twice"
        );
    }
});
