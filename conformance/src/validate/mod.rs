//! Passive conformance (`nbns-conform validate`): a capture of a real WINS server's NBNS
//! traffic replayed through the model's server (the reference's packet layer, the code the
//! reference runs), every answer the server gave held against the one the model would give,
//! and every answer the model would give that the server never sent.
//!
//! Requests go to the model in capture order at capture time; the holders' answers to
//! challenge queries go to it too, so a challenge decides as it did on the wire. Where the
//! server answered after its own timeout and the model's timer has not run out yet, the
//! model's pending timers are fired first (the server's timeout is the one that counts).
//!
//! A capture that starts mid-life shows records only as it goes: a name the capture has not
//! shown yet is undetermined, its answers are not judged, and the first answer that shows
//! its state (a query answered with addresses or NAM_ERR, a registration granted) teaches
//! the model that state. `--from-start` says the capture starts with an empty database, so
//! that every name is determined from its first packet. Answers of the server are also
//! held against the RFC 1002 layouts (the strict check).

pub mod replay;

use crate::capture::pcap::{self, CaptureReader, FileKind, Transport};
use crate::capture::reassembly::{Delivery, FlowKey, Streams};
use crate::verdict::expectations::Expectations;
use nbns_wire::wrepl::{self, FrameSplitter};
use std::fs::File;
use std::io::{BufReader, Read};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;

/// `nbns-conform validate`'s options.
#[derive(Debug, Clone)]
pub struct Options {
    pub inputs: Vec<String>,
    /// The WINS server's address; found from the traffic when absent.
    pub server: Option<Ipv4Addr>,
    /// The server's NetBIOS name (it holds NAME<00> and NAME<20> itself).
    pub server_name: Option<String>,
    /// The capture starts with the server's database empty.
    pub from_start: bool,
    pub json: bool,
    /// Known deviations of the server (`rule ID` entries of expectations files).
    pub expect: Vec<PathBuf>,
}

/// One NBNS datagram of a capture.
#[derive(Debug, Clone)]
pub struct Datagram {
    pub frame: u64,
    /// Seconds since the capture's first datagram.
    pub time: f64,
    pub src: SocketAddrV4,
    pub dst: SocketAddrV4,
    pub bytes: Vec<u8>,
}

/// What a capture holds for the replay.
#[derive(Debug, Clone, Default)]
pub struct Capture {
    /// The NBNS datagrams (UDP 137), in capture order.
    pub datagrams: Vec<Datagram>,
    /// Names carried by WINS replication (TCP 42) anywhere in the capture: their records
    /// change by replication, which the replay does not follow, so they are not judged.
    pub replicated: Vec<nbns_reference::WireName>,
    /// Why the file ended early (a capture whose writer was stopped mid-record): what came
    /// before is replayed, the rest is missing.
    pub cut_short: Option<String>,
}

/// Reads the UDP port-137 datagrams (IPv4) and the names of the WINS replication frames of a
/// capture file.
pub fn read_capture(path: &str) -> Result<Capture, String> {
    let file = File::open(path).map_err(|e| format!("{path}: cannot open: {e}"))?;
    let mut reader = BufReader::with_capacity(64 * 1024, file);
    let mut head = Vec::with_capacity(4);
    reader
        .by_ref()
        .take(4)
        .read_to_end(&mut head)
        .map_err(|e| format!("{path}: read error: {e}"))?;
    if pcap::file_kind(&head) == FileKind::Other {
        return Err(format!("{path}: not a pcap or pcapng capture"));
    }
    let mut cap = CaptureReader::new(std::io::Cursor::new(head).chain(reader))
        .map_err(|e| format!("{path}: {e}"))?;
    let mut out = Vec::new();
    let mut t0 = None;
    let mut streams: Streams<FrameSplitter> = Streams::new(MAX_STREAMS);
    let mut replicated = Vec::new();
    let mut cut_short = None;
    let mut last_frame = 0;
    loop {
        let p = match cap.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            // tcpdump stopped by a signal leaves its last record half written: keep what
            // came before, as tshark does, and say so.
            Err(e @ pcap::CaptureError::Truncated { .. }) => {
                cut_short = Some(format!("{e} (after frame {last_frame})"));
                break;
            }
            Err(e) => return Err(format!("{path}: {e}")),
        };
        last_frame = p.number;
        let (src, dst, payload) = match pcap::transport(p.linktype, &p.data) {
            Ok(Transport::Udp {
                src: SocketAddr::V4(src),
                dst: SocketAddr::V4(dst),
                payload,
                cut: false,
            }) => (src, dst, payload),
            Ok(Transport::Tcp(seg))
                if seg.src.port() == wrepl::PORT || seg.dst.port() == wrepl::PORT =>
            {
                let key = FlowKey {
                    src: seg.src,
                    dst: seg.dst,
                };
                let ((stream, splitter), _) = streams.get_or_open(key, FrameSplitter::new);
                for d in stream.segment(seg.seq, seg.syn, seg.payload) {
                    if let Delivery::Data { bytes, .. } = d {
                        splitter.push(&bytes);
                    }
                }
                while let Some(Ok(frame)) = splitter.next_frame() {
                    replicated_names(frame, &mut replicated);
                }
                if seg.fin || seg.rst {
                    streams.close(&key);
                }
                continue;
            }
            _ => continue,
        };
        if src.port() != nbns_wire::nbns::PORT && dst.port() != nbns_wire::nbns::PORT {
            continue;
        }
        let t = p.time.unwrap_or(0.0);
        let start = *t0.get_or_insert(t);
        out.push(Datagram {
            frame: p.number,
            time: (t - start).max(0.0),
            src,
            dst,
            bytes: payload.to_vec(),
        });
    }
    replicated.sort();
    replicated.dedup();
    Ok(Capture {
        datagrams: out,
        replicated,
        cut_short,
    })
}

/// Streams followed at once; older ones are dropped past it.
const MAX_STREAMS: usize = 1024;

/// The names of the records a WINS replication frame carries.
fn replicated_names(frame: &[u8], out: &mut Vec<nbns_reference::WireName>) {
    let Ok(repr) = wrepl::Repr::parse_bytes(frame, wrepl::ParseOptions::default()) else {
        return;
    };
    let owned = wrepl::OwnedRepr::from_repr(&repr);
    if let wrepl::OwnedMessage::Replication(wrepl::OwnedReplication::NameRecordsResponse(recs)) =
        owned.message
    {
        for r in recs {
            if let wrepl::OwnedRecordName::Netbios { name, scope } = r.name {
                let n = nbns_reference::WireName::with_dotted_scope(name, &scope)
                    .unwrap_or_else(|| nbns_reference::WireName::unscoped(name));
                out.push(n);
            }
        }
    }
}

/// `nbns-conform validate`: exit 0 no divergence (beyond the listed ones), 1 some, 2
/// unreadable input.
pub fn run(opts: &Options) -> i32 {
    let mut known_rules = Vec::new();
    for path in &opts.expect {
        match Expectations::load(path) {
            Ok(e) => known_rules.extend(e.rules.into_values()),
            Err(e) => {
                eprintln!("error: {e}");
                return 2;
            }
        }
    }
    let mut totals = replay::Totals::default();
    for input in &opts.inputs {
        let capture = match read_capture(input) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("error: {e}");
                return 2;
            }
        };
        if let Some(why) = &capture.cut_short {
            eprintln!("warning: {input}: {why}; the rest of the file is missing");
        }
        let datagrams = &capture.datagrams;
        let Some(server) = opts.server.or_else(|| replay::find_server(datagrams)) else {
            eprintln!(
                "error: {input}: no WINS server found (no unicast registration, refresh, release \
                 or query answered); give --server IP"
            );
            return 2;
        };
        let cfg = replay::Config {
            server,
            server_name: opts.server_name.clone(),
            from_start: opts.from_start,
        };
        let report = replay::replay(&cfg, &capture);
        if !opts.json {
            eprintln!(
                "{input}: server {server}, {} datagrams, {} names replicated over TCP 42 (not judged){}",
                datagrams.len(),
                capture.replicated.len(),
                if opts.from_start {
                    ", from an empty database"
                } else {
                    ""
                }
            );
        }
        for d in &report.divergences {
            let known = known_rules
                .iter()
                .find(|k| k.script == d.rule && k.seen_in(&d.to_string()));
            if opts.json {
                let mut v = serde_json::json!({
                    "capture": input,
                    "frame": d.frame,
                    "request_frame": d.request_frame,
                    "name": d.name,
                    "rule": d.rule,
                    "expected": d.expected,
                    "observed": d.observed,
                });
                if let Some(k) = known {
                    v["known_deviation"] = k.reason.clone().into();
                }
                println!("{v}");
            } else {
                println!(
                    "{} {input} frame {} (request frame {}) {}: {}: expected {}; observed {}",
                    if known.is_some() { "known" } else { "DIVERGES" },
                    d.frame,
                    d.request_frame,
                    d.name,
                    d.rule,
                    d.expected,
                    d.observed
                );
            }
            if known.is_some() {
                totals.known += 1;
            }
        }
        totals.add(&report);
    }
    let summary = format!(
        "validated {} exchanges, {} divergences, {} undetermined",
        totals.exchanges, totals.divergences, totals.undetermined
    );
    if opts.json {
        println!(
            "{}",
            serde_json::json!({
                "exchanges": totals.exchanges,
                "divergences": totals.divergences,
                "known_divergences": totals.known,
                "undetermined": totals.undetermined,
            })
        );
    } else if totals.known > 0 {
        println!("{summary} ({} of them known deviations)", totals.known);
    } else {
        println!("{summary}");
    }
    i32::from(totals.divergences > totals.known)
}
