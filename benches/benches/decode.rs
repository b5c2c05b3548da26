//! Decode and emit of typical NBNS packets, with two DNS codecs as peers
//! decoding the very same bytes (NBNS is DNS-shaped, so both accept them).
//!
//! What each subject does, so the numbers compare like with like:
//! * `nbns-wire`: `Repr::parse_bytes` to a full `Repr`: header and flags,
//!   counts checked, the question name parsed (pointers followed, 255-byte
//!   limit) and its first-level encoding decoded to the 16-byte NetBIOS name,
//!   each record's name, type, class, TTL and RDATA checked and typed (NB
//!   entries and node status names stay views into the packet, as the
//!   peers' record data does). Nothing is allocated.
//!   `nbns-wire/parse_into` is the same decode into one `Repr` reused for
//!   every packet (`Repr::parse_into`): what a loop over captured packets
//!   does; nothing is returned or moved.
//! * `domain` (NLnet Labs): `Message::from_octets`, then every question and
//!   record of all sections parsed (names validated, pointers followed) and
//!   walked label by label, RDATA as `UnknownRecordData` (a view: domain
//!   knows no NB type). No allocation.
//! * `hickory-proto`: `Message::from_bytes`, its normal full decode into an
//!   owned `Message` (names, records and RDATA are allocated).
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use nbns_benches::{
    name_query, node_status_response, positive_response, registration, wins_send_entries_reply,
};
use nbns_wire::nbns::{Compression, Repr};
use nbns_wire::wrepl::{self, Message, ParseOptions, Replication};

fn domain_decode(bytes: &[u8]) -> usize {
    use domain::base::{Message, UnknownRecordData};
    let msg = Message::from_octets(bytes).expect("domain: header");
    let mut labels = 0;
    for q in msg.question() {
        let q = q.expect("domain: question");
        labels += q.qname().iter().count();
    }
    let mut section = msg.answer().expect("domain: answer");
    loop {
        for r in &mut section {
            let r = r.expect("domain: record");
            let rec = r
                .to_record::<UnknownRecordData<_>>()
                .expect("domain: rdata")
                .expect("domain: rdata type");
            labels += rec.owner().iter().count() + rec.data().data().len();
        }
        match section.next_section().expect("domain: section") {
            Some(next) => section = next,
            None => break,
        }
    }
    labels
}

fn hickory_decode(bytes: &[u8]) -> Option<hickory_proto::op::Message> {
    use hickory_proto::serialize::binary::BinDecodable;
    hickory_proto::op::Message::from_bytes(bytes).ok()
}

fn samples() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("query_50", name_query()),
        ("positive_response_62", positive_response()),
        ("registration_68", registration()),
        ("node_status_response", node_status_response()),
    ]
}

fn nbns(c: &mut Criterion) {
    for (name, bytes) in samples() {
        let mut g = c.benchmark_group(name);
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function("nbns-wire/decode", |b| {
            b.iter(|| Repr::parse_bytes(black_box(&bytes[..])).unwrap())
        });
        // The same decode into one reused Repr: nothing is returned or moved.
        let mut reused = Repr::EMPTY;
        g.bench_function("nbns-wire/parse_into", |b| {
            b.iter(|| {
                black_box(&mut reused)
                    .parse_into(black_box(&bytes[..]))
                    .unwrap()
            })
        });
        let repr = Repr::parse_bytes(&bytes).unwrap();
        assert_eq!(reused, repr);
        // Registrations carry the pointer to the question; the rest are uncompressed.
        let comp = if name.starts_with("registration") {
            Compression::Question
        } else {
            Compression::None
        };
        let mut out = vec![0u8; repr.buffer_len(comp)];
        assert_eq!(repr.emit(&mut out, comp), Ok(bytes.len()));
        assert_eq!(out, bytes);
        g.bench_function("nbns-wire/emit", |b| {
            b.iter(|| {
                black_box(&repr)
                    .emit(black_box(&mut out[..]), comp)
                    .unwrap()
            })
        });
        g.bench_function("domain/decode", |b| {
            b.iter(|| domain_decode(black_box(&bytes[..])))
        });
        // hickory reads type 0x21 (NBSTAT) as SRV and rejects the RDATA.
        if hickory_decode(&bytes).is_some() {
            g.bench_function("hickory/decode", |b| {
                b.iter(|| hickory_decode(black_box(&bytes[..])).unwrap())
            });
        } else {
            eprintln!("{name}: hickory-proto does not decode this packet; skipped");
        }
        g.finish();
    }
}

/// WINS replication has no peer codec; decode is the frame parse (records
/// validated) plus a walk over all 20 records, as a puller does.
fn wins(c: &mut Criterion) {
    let bytes = wins_send_entries_reply();
    let mut g = c.benchmark_group("wins_send_entries_20");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    let decode = |b: &[u8]| {
        let repr = wrepl::Repr::parse_bytes(b, ParseOptions::default()).unwrap();
        let Message::Replication(Replication::NameRecordsResponse(records)) = repr.message else {
            panic!("not a name records response");
        };
        records.iter().map(|r| r.version).sum::<u64>()
    };
    assert_eq!(decode(&bytes), (0..20).map(|i| 0x1_0000 + i).sum::<u64>());
    g.bench_function("nbns-wire/decode", |b| {
        b.iter(|| decode(black_box(&bytes[..])))
    });
    let repr = wrepl::Repr::parse_bytes(&bytes, ParseOptions::default()).unwrap();
    let mut out = vec![0u8; repr.buffer_len()];
    g.bench_function("nbns-wire/emit", |b| {
        b.iter(|| {
            black_box(&repr)
                .emit_bytes(black_box(&mut out[..]))
                .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, nbns, wins);
criterion_main!(benches);
