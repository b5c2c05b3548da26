//! Decoding allocates nothing: a counting global allocator (per thread, so
//! the test harness's own threads do not count) sees zero allocations while
//! the sample packets are parsed to full Reprs and their names, entries and
//! status names are walked and compared.

use nbns_benches::{
    name_query, node_status_response, positive_response, registration, wins_send_entries_reply,
};
use nbns_wire::nbns::{RData, Repr};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.with(|n| n.set(n.get() + 1));
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.with(|n| n.set(n.get() + 1));
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCS.with(Cell::get);
    f();
    ALLOCS.with(Cell::get) - before
}

/// Parses and touches everything a caller would: returns a checksum so
/// nothing is optimised away.
fn decode_and_walk(bytes: &[u8]) -> usize {
    let repr = Repr::parse_bytes(bytes).unwrap();
    let mut sum = repr.id as usize;
    if let Some(q) = &repr.question {
        sum += q.name.netbios_name().unwrap().as_bytes()[0] as usize;
        sum += u16::from(q.qtype) as usize;
        if let nbns_wire::Name::Netbios { scope, .. } = q.name {
            sum += scope.iter().map(<[u8]>::len).sum::<usize>();
        }
    }
    for r in [&repr.answer, &repr.authority, &repr.additional]
        .into_iter()
        .flatten()
    {
        sum += r.name.buffer_len() + r.ttl as usize;
        if let Some(q) = &repr.question {
            sum += (q.name == r.name) as usize;
        }
        match r.rdata {
            RData::Nb(list) => {
                sum += list
                    .iter()
                    .map(|e| e.addr.octets()[3] as usize + e.flags.0 as usize)
                    .sum::<usize>()
            }
            RData::NbStat(s) => {
                sum += s.names.iter().map(|n| n.flags as usize).sum::<usize>();
                sum += s.unit_id().map_or(0, |id| id[5] as usize);
            }
            _ => {}
        }
    }
    sum + repr.first_address().map_or(0, |a| a.octets()[0] as usize)
}

#[test]
fn decoding_the_samples_allocates_nothing() {
    let samples = [
        ("50-byte query", name_query()),
        ("62-byte positive response", positive_response()),
        ("68-byte registration", registration()),
        ("node status response", node_status_response()),
    ];
    // The counter itself works.
    assert!(allocations_during(|| drop(std::hint::black_box(vec![1u8; 10]))) >= 1);
    for (what, bytes) in &samples {
        let mut sum = 0;
        let n = allocations_during(|| sum = decode_and_walk(std::hint::black_box(bytes)));
        assert!(sum > 0);
        assert_eq!(n, 0, "decoding the {what} allocated {n} times");
    }
    // Decoding into a reused Repr allocates nothing either.
    let mut repr = Repr::EMPTY;
    for (what, bytes) in &samples {
        let n = allocations_during(|| repr.parse_into(std::hint::black_box(bytes)).unwrap());
        assert_eq!(Ok(repr), Repr::parse_bytes(bytes));
        assert_eq!(n, 0, "decoding the {what} into a Repr allocated {n} times");
    }
}

#[test]
fn decoding_a_wins_send_entries_reply_allocates_nothing() {
    use nbns_wire::wrepl::{Addresses, Message, ParseOptions, Replication, Repr};
    let bytes = wins_send_entries_reply();
    let mut sum = 0u64;
    let n = allocations_during(|| {
        let repr =
            Repr::parse_bytes(std::hint::black_box(&bytes), ParseOptions::default()).unwrap();
        if let Message::Replication(Replication::NameRecordsResponse(records)) = repr.message {
            for r in records.iter() {
                sum += r.version + r.name.netbios_name().map_or(0, |n| n.suffix() as u64);
                if let Addresses::Single(a) = r.addresses {
                    sum += a.octets()[3] as u64;
                }
            }
        }
    });
    assert!(sum > 0);
    assert_eq!(n, 0, "decoding the WINS reply allocated {n} times");
}
