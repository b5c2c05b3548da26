//! Decodes one sample packet many times, for instruction counts under
//! callgrind (stable where criterion on a shared machine is not):
//!
//! ```sh
//! cargo build --release -p nbns-benches --example decode_count
//! valgrind --tool=callgrind target/release/examples/decode_count query 100000
//! ```
//!
//! Subjects: `query`, `response`, `registration`, `status` (nbns-wire's
//! `Repr::parse_bytes`), `into-*` (reusing one `Repr`), `domain-*`
//! (the bench's domain decode). Prints the size of `Repr` and a checksum.
use nbns_benches::{name_query, node_status_response, positive_response, registration};
use nbns_wire::nbns::Repr;
use std::hint::black_box;

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

fn main() {
    let mut args = std::env::args().skip(1);
    let what = args.next().unwrap_or_else(|| "query".into());
    let n: usize = args.next().map_or(100_000, |s| s.parse().unwrap());
    let (kind, packet) = what.split_once('-').unwrap_or(("nbns", &what));
    let bytes = match packet {
        "query" => name_query(),
        "response" => positive_response(),
        "registration" => registration(),
        "status" => node_status_response(),
        other => panic!("unknown packet {other}"),
    };
    let mut sum = 0usize;
    match kind {
        "nbns" => {
            for _ in 0..n {
                let repr = Repr::parse_bytes(black_box(&bytes[..])).unwrap();
                sum += black_box(&repr).id as usize;
            }
        }
        "into" => {
            let mut repr = Repr::EMPTY;
            for _ in 0..n {
                repr.parse_into(black_box(&bytes[..])).unwrap();
                sum += black_box(&repr).id as usize;
            }
        }
        "domain" => {
            for _ in 0..n {
                sum += domain_decode(black_box(&bytes[..]));
            }
        }
        other => panic!("unknown subject {other}"),
    }
    println!(
        "{what} x{n}: checksum {sum}, size_of::<Repr> = {}",
        std::mem::size_of::<Repr<'_>>()
    );
}
