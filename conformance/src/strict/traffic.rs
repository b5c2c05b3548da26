//! One script's exchange with a target, checked whole: every answer the target sent to one
//! of the script's requests (same client socket, same transaction id, after the request) and
//! every request the target sent on its own (a challenge query, a release demand) for a name
//! the script used. Scripts use names unique to them, so a request of the target belongs to
//! exactly one script. Packets that arrive after the script ended are not seen, and answers
//! to hand-made (`raw=`) packets are not held to a layout: such a request is usually outside
//! the RFC on purpose, and its transaction id is the script's choice, not unique to it.

use super::nbns::{self, Asked};
use super::Violation;
use crate::net::Incoming;
use nbns_wire::nbns::Repr;
use nbns_wire::Name;
use std::net::SocketAddr;
use std::time::Instant;

/// A datagram the runner sent for a script.
#[derive(Debug, Clone)]
pub struct Sent {
    pub client: usize,
    pub to: SocketAddr,
    pub bytes: Vec<u8>,
    pub at: Instant,
    /// A `raw=` packet: its answer is not checked.
    pub hand_made: bool,
}

/// The violations in the target's part of one script's exchange.
pub fn check(target: SocketAddr, sent: &[Sent], received: &[Incoming]) -> Vec<Violation> {
    let requests: Vec<(&Sent, Repr<'_>)> = sent
        .iter()
        .filter(|s| s.to.ip() == target.ip() && !s.hand_made)
        .filter_map(|s| Repr::parse_bytes(&s.bytes).ok().map(|r| (s, r)))
        .filter(|(_, r)| !r.flags.response)
        .collect();
    let names: Vec<Name<'_>> = requests
        .iter()
        .filter_map(|(_, r)| r.question.map(|q| q.name))
        .collect();
    let mut out = Vec::new();
    for i in received.iter().filter(|i| i.from.ip() == target.ip()) {
        let Some(&[id_hi, id_lo, flags_hi]) = i.bytes.get(..3) else {
            continue;
        };
        let id = u16::from_be_bytes([id_hi, id_lo]);
        let found = if flags_hi & 0x80 != 0 {
            // An answer: to the latest request with its id on that socket before it came.
            let Some((_, request)) = requests
                .iter()
                .rev()
                .find(|(s, r)| s.client == i.client && r.id == id && s.at <= i.at)
            else {
                // Answering nothing the script sent: a request of the target's own (a
                // challenge query or release demand for a script's name) with R set?
                let own_request = Repr::parse_bytes(&i.bytes).ok().is_some_and(|r| {
                    r.answer.is_none() && r.question.is_some_and(|q| names.contains(&q.name))
                });
                if own_request {
                    out.push(Violation {
                        packet: describe(i),
                        ..Violation::new(
                            "RFC1002-4.2.1.1-REQUEST-R-CLEAR",
                            "a request the target sent on its own (a question, no answer, \
                             answering none of the script's requests) has the R bit set",
                        )
                    });
                }
                continue;
            };
            let Some(asked) = Asked::of(request) else {
                continue; // not a well-formed request: no layout to hold the answer to
            };
            nbns::check_response(&asked, &i.bytes)
        } else {
            let ours = Repr::parse_bytes(&i.bytes)
                .ok()
                .and_then(|r| r.question)
                .is_some_and(|q| names.contains(&q.name));
            if !ours {
                continue;
            }
            nbns::check_server_request(&i.bytes)
        };
        let packet = describe(i);
        out.extend(found.into_iter().map(|mut v| {
            v.packet = packet.clone();
            v
        }));
    }
    out
}

/// The violations in what an NBT client under test sent from one of its `nics` (client role).
pub fn check_client(nics: &[std::net::Ipv4Addr], received: &[Incoming]) -> Vec<Violation> {
    let mut out = Vec::new();
    for i in received {
        let from_client = matches!(i.from.ip(), std::net::IpAddr::V4(ip) if nics.contains(&ip));
        if !from_client {
            continue;
        }
        let packet = describe(i);
        out.extend(
            nbns::check_client_packet(&i.bytes)
                .into_iter()
                .map(|mut v| {
                    v.packet = packet.clone();
                    v
                }),
        );
    }
    out
}

fn describe(i: &Incoming) -> String {
    match Repr::parse_bytes(&i.bytes) {
        Ok(r) => format!("from {}: {}", i.from, r.to_string().trim_end()),
        Err(e) => format!(
            "from {}: {} bytes that do not parse ({e})",
            i.from,
            i.bytes.len()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nbns_wire::nbns::{Compression, Flags, Opcode, Question, RrType, CLASS_IN};
    use nbns_wire::NetbiosName;

    fn query(id: u16, response: bool) -> Vec<u8> {
        let name = Name::netbios(
            NetbiosName::new(b"HOST", 0).unwrap(),
            nbns_wire::Labels::dotted("").unwrap(),
        )
        .unwrap();
        let r = Repr {
            id,
            flags: Flags {
                response,
                ..Flags::request(Opcode::Query)
            },
            question: Some(Question {
                name,
                qtype: RrType::Nb,
                qclass: CLASS_IN,
            }),
            answer: None,
            authority: None,
            additional: None,
        };
        let mut buf = vec![0; r.buffer_len(Compression::None)];
        r.emit(&mut buf, Compression::None).unwrap();
        buf
    }

    #[test]
    fn a_challenge_query_with_r_set_is_a_violation() {
        let target: SocketAddr = "127.0.0.9:137".parse().unwrap();
        let now = Instant::now();
        let sent = [Sent {
            client: 1,
            to: target,
            bytes: query(5, false),
            at: now,
            hand_made: false,
        }];
        let got = |response| {
            let received = [Incoming {
                client: 0,
                from: target,
                bytes: query(77, response),
                at: now,
                seq: 0,
            }];
            check(target, &sent, &received)
                .into_iter()
                .map(|v| v.rule)
                .collect::<Vec<_>>()
        };
        assert_eq!(got(true), ["RFC1002-4.2.1.1-REQUEST-R-CLEAR"]);
        assert_eq!(got(false), Vec::<&str>::new());
    }
}
