//! Two names at once: a `<1C>` (domain controllers) query is answered with the active `<1B>`
//! holder (the PDC) first, member or not, without repeating it, and 25 addresses at most
//! (`Server::domain_controllers`). The sequences are chosen, not explored: each shows one
//! way the `<1B>` record shapes the answer; the model gives every expected answer.

use super::{
    addrs_text, expect_fields, expect_line, header, request, send_line, Act, Generated, Out, ME,
    OBSERVER, S, TTL, XID,
};
use nbns_model::proto::Packet;
use nbns_model::server::ServerConfig;
use std::fmt::Write as _;

const PDC: u8 = 0x1B;
const DCS: u8 = 0x1C;

/// One request of a sequence: who sends it, for which name, for which address.
struct Req {
    client: u8,
    name: u8,
    act: Act,
    addr: Option<u8>,
}

fn req(client: u8, name: u8, act: Act) -> Req {
    Req {
        client,
        name,
        act,
        addr: None,
    }
}

/// The sequences: (file stem, what it shows, requests).
fn sequences(cfg: &ServerConfig) -> Vec<(&'static str, &'static str, Vec<Req>)> {
    let full: Vec<Req> = (0..cfg.special_group_max)
        .map(|i| Req {
            client: 1,
            name: DCS,
            act: Act::RegGroup,
            addr: Some(super::FIRST_OTHER + u8::try_from(i).expect("a small limit")),
        })
        .collect();
    let mut full_then_pdc = full;
    full_then_pdc.push(req(2, PDC, Act::RegUnique));
    vec![
        (
            "pdc-first",
            "the <1B> holder, not a member, is listed first",
            vec![req(2, PDC, Act::RegUnique), req(1, DCS, Act::RegGroup)],
        ),
        (
            "pdc-member",
            "the <1B> holder, a member too, is listed first and once",
            vec![
                req(1, DCS, Act::RegGroup),
                req(2, DCS, Act::RegGroup),
                req(2, PDC, Act::RegUnique),
            ],
        ),
        (
            "pdc-released",
            "a released <1B> is not listed",
            vec![
                req(2, PDC, Act::RegUnique),
                req(1, DCS, Act::RegGroup),
                req(2, PDC, Act::Release),
            ],
        ),
        (
            "pdc-full",
            "with 25 members, the <1B> holder first and 24 of them",
            full_then_pdc,
        ),
    ]
}

fn name_text(name: u8) -> &'static str {
    if name == PDC {
        "{N}<1b>"
    } else {
        "{N}<1c>"
    }
}

/// The scripts, under `n1c/`.
pub(super) fn scripts(cfg: &ServerConfig) -> Vec<Generated> {
    sequences(cfg)
        .into_iter()
        .map(|(stem, story, reqs)| {
            let mut s = S::new(ME);
            let mut body = String::new();
            // The full group's first member is older than the others by a wait (which member
            // a server leaves out of a full answer may depend on age).
            let wait_after_first = reqs.len() > cfg.special_group_max;
            for (i, r) in reqs.iter().enumerate() {
                let mut out: Out = Vec::new();
                let addr = r.addr.unwrap_or(r.client);
                let now = if wait_after_first && i > 0 {
                    super::OLDEST_FIRST
                } else {
                    0
                };
                s.handle(
                    cfg,
                    now,
                    r.client,
                    XID,
                    request(r.name, addr, r.act, TTL),
                    &mut out,
                );
                let (op, group) = match r.act {
                    Act::RegGroup => ("register", true),
                    Act::Release => ("release", r.name == DCS),
                    _ => ("register", false),
                };
                let name = name_text(r.name);
                let _ = writeln!(
                    body,
                    "{}",
                    send_line(op, name, group, (r.client, TTL), r.addr, None)
                );
                let _ = writeln!(
                    body,
                    "{}",
                    expect_line(&out, r.client, (addr, group), "", 0)
                );
                if wait_after_first && i == 0 {
                    let _ = writeln!(body, "wait      for={}s", super::OLDEST_FIRST);
                }
            }
            let mut q = Vec::new();
            let query = Packet::Query {
                name: DCS,
                broadcast: false,
            };
            let end = if wait_after_first {
                super::OLDEST_FIRST
            } else {
                0
            };
            s.handle(cfg, end, OBSERVER, XID, query, &mut q);
            let answer = &q[0].packet;
            // The order is promised only for the `<1B>` holder (members come in any order).
            let first = match answer {
                Packet::Response { addrs, .. } if s.active(&PDC).is_some() => {
                    addrs.first().copied()
                }
                _ => None,
            };
            let _ = writeln!(
                body,
                "send      op=query name={{N}}<1c> from=client{OBSERVER}"
            );
            let _ = writeln!(
                body,
                "expect    to=client{OBSERVER} {}{}",
                expect_fields(answer, None),
                first.map_or(String::new(), |a| format!(
                    " first-addr={}",
                    addrs_text(&[a])
                ))
            );
            let mut t = header(
                &format!("1c-{stem}"),
                &format!("a <1C> query: {story}"),
                &["generated", "domain-controllers"],
                ["IMPL-1C-PREPEND-1B", "NBTE-3.2.1-25-ADDRESSES"],
            );
            let _ = writeln!(t, "set N = {{run}}GEN");
            t.push_str(&body);
            Generated {
                path: format!("n1c/{stem}.nbt"),
                text: t,
            }
        })
        .collect()
}
