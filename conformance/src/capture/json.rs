//! Decoded messages as JSON values with stable field names, for
//! `nbns-conform decode --json` and for tests that compare with other
//! dissectors. (serde stays out of `nbns-wire`: this mirrors its types.)
//!
//! NBNS fields: `id`, `flags` {`bits`, `response`, `aa`, `tc`, `rd`, `ra`,
//! `b`, `reserved`}, `opcode`, `opcode_name`, `rcode`, `rcode_name`,
//! `counts` {`qd`, `an`, `ns`, `ar`}, `question` {name fields, `type`,
//! `type_name`, `class`}, and `answers`, `authority`, `additional`: arrays
//! of records {name fields, `type`, `type_name`, `class`, `ttl`, `rdata`}.
//! Name fields: `name` (as `FRED<20>.scope`), `netbios` (the 15 bytes,
//! trailing spaces trimmed, non-printables as `\xNN`), `suffix` (number),
//! `scope` (dotted); a plain domain name has `netbios` and `suffix` null.
//!
//! WINS replication fields: `length`, `opcode`, `assoc_ctx`,
//! `message_type`, `message_name`, `padding` and one of `start` {`assoc_ctx`,
//! `major_version`, `minor_version`}, `stop` {`reason`} or `replication`
//! {`opcode`, `opcode_name`, `owners`, `initiator`, `owner`, `records`}.

use nbns_wire::name::{Name, NetbiosName};
use nbns_wire::nbns::{self, Flags, NbFlags, NodeType, RData, Record};
use nbns_wire::wrepl::{self, Addresses, Message, OwnerRecord, RecordName, Replication};
use serde_json::{json, Map, Value};

/// Text with non-printable bytes escaped, as the codec's Display does.
pub fn escaped(bytes: &[u8]) -> String {
    let mut s = String::new();
    for &b in bytes {
        if (0x20..0x7f).contains(&b) && b != b'\\' {
            s.push(b as char);
        } else {
            s.push_str(&format!("\\x{b:02x}"));
        }
    }
    s
}

fn netbios_fields(m: &mut Map<String, Value>, n: &NetbiosName) {
    m.insert("netbios".into(), escaped(n.trimmed()).into());
    m.insert("suffix".into(), n.suffix().into());
}

/// `name`, `netbios`, `suffix` and `scope` of a name.
pub fn name_fields(m: &mut Map<String, Value>, name: &Name<'_>) {
    m.insert("name".into(), name.to_string().into());
    m.insert("encoded_len".into(), name.buffer_len().into());
    // RFC 1002 allows 255 bytes; real servers (Samba's AD DC) send longer.
    m.insert("over_rfc_limit".into(), name.exceeds_rfc_limit().into());
    match name {
        Name::Netbios { name: n, scope } => {
            netbios_fields(m, n);
            m.insert("scope".into(), scope.to_string().into());
        }
        Name::Domain(labels) => {
            m.insert("netbios".into(), Value::Null);
            m.insert("suffix".into(), Value::Null);
            m.insert("scope".into(), labels.to_string().into());
        }
    }
}

fn node_type(n: NodeType) -> &'static str {
    match n {
        NodeType::B => "B",
        NodeType::P => "P",
        NodeType::M => "M",
        NodeType::H => "H",
    }
}

pub fn nb_flags(f: NbFlags) -> Value {
    json!({"bits": f.0, "group": f.group(), "ont": node_type(f.node_type())})
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn rdata(r: &RData<'_>) -> Value {
    match r {
        RData::Nb(list) => json!({
            "kind": "nb",
            "entries": list.iter().map(|e| json!({
                "flags": e.flags.0,
                "group": e.flags.group(),
                "ont": node_type(e.flags.node_type()),
                "addr": e.addr.to_string(),
            })).collect::<Vec<_>>(),
        }),
        RData::Wack(w) => json!({"kind": "wack", "flags": w}),
        RData::NbStat(s) => json!({
            "kind": "nbstat",
            "names": s.names.iter().map(|n| {
                let mut m = Map::new();
                m.insert("name".into(), n.name.to_string().into());
                netbios_fields(&mut m, &n.name);
                m.insert("flags".into(), n.flags.into());
                m.insert("group".into(), (n.flags & nbns::StatusName::GROUP != 0).into());
                m.insert("ont".into(), node_type(NbFlags(n.flags).node_type()).into());
                m.insert("drg".into(), (n.flags & nbns::StatusName::DEREGISTERING != 0).into());
                m.insert("cnf".into(), (n.flags & nbns::StatusName::CONFLICT != 0).into());
                m.insert("act".into(), (n.flags & nbns::StatusName::ACTIVE != 0).into());
                m.insert("prm".into(), (n.flags & nbns::StatusName::PERMANENT != 0).into());
                Value::Object(m)
            }).collect::<Vec<_>>(),
            "unit_id": s.unit_id().map(|id| id.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")),
            "statistics_len": s.statistics.len(),
        }),
        RData::A(a) => json!({"kind": "a", "addr": a.to_string()}),
        RData::Ns(n) => json!({"kind": "ns", "name": n.to_string()}),
        RData::Null(d) => json!({"kind": "null", "data": hex(d)}),
        RData::Unknown { rtype, data } => {
            json!({"kind": "unknown", "type": rtype, "data": hex(data)})
        }
    }
}

fn record(r: &Record<'_>) -> Value {
    let mut m = Map::new();
    name_fields(&mut m, &r.name);
    let t = r.rdata.rtype();
    m.insert("type".into(), u16::from(t).into());
    m.insert("type_name".into(), t.to_string().into());
    m.insert("class".into(), r.class.into());
    m.insert("ttl".into(), r.ttl.into());
    m.insert("rdata".into(), rdata(&r.rdata));
    Value::Object(m)
}

fn flags(f: &Flags) -> Value {
    json!({
        "bits": f.bits(),
        "response": f.response,
        "aa": f.authoritative,
        "tc": f.truncated,
        "rd": f.recursion_desired,
        "ra": f.recursion_available,
        "b": f.broadcast,
        "reserved": f.reserved,
    })
}

/// The decoded fields of an NBNS packet, added to `m`.
pub fn nbns_fields(m: &mut Map<String, Value>, r: &nbns::Repr<'_>) {
    m.insert("id".into(), r.id.into());
    m.insert("flags".into(), flags(&r.flags));
    m.insert("opcode".into(), r.flags.opcode.bits().into());
    m.insert("opcode_name".into(), r.flags.opcode.to_string().into());
    m.insert("rcode".into(), u8::from(r.flags.rcode).into());
    m.insert("rcode_name".into(), r.flags.rcode.to_string().into());
    m.insert(
        "counts".into(),
        json!({
            "qd": r.question.is_some() as u8,
            "an": r.answer.is_some() as u8,
            "ns": r.authority.is_some() as u8,
            "ar": r.additional.is_some() as u8,
        }),
    );
    m.insert(
        "question".into(),
        match &r.question {
            Some(q) => {
                let mut qm = Map::new();
                name_fields(&mut qm, &q.name);
                qm.insert("type".into(), u16::from(q.qtype).into());
                qm.insert("type_name".into(), q.qtype.to_string().into());
                qm.insert("class".into(), q.qclass.into());
                Value::Object(qm)
            }
            None => Value::Null,
        },
    );
    for (key, rec) in [
        ("answers", &r.answer),
        ("authority", &r.authority),
        ("additional", &r.additional),
    ] {
        m.insert(
            key.into(),
            Value::Array(rec.iter().map(record).collect::<Vec<_>>()),
        );
    }
}

fn owner(o: &OwnerRecord) -> Value {
    json!({
        "address": o.address.to_string(),
        "max_version": o.max_version,
        "min_version": o.min_version,
        "type": o.owner_type,
    })
}

fn record_name(m: &mut Map<String, Value>, n: &RecordName<'_>) {
    m.insert("name".into(), n.to_string().into());
    m.insert("name_len".into(), n.wire_len().into());
    match n {
        RecordName::Netbios { name, scope } => {
            netbios_fields(m, name);
            m.insert("scope".into(), escaped(scope).into());
        }
        RecordName::Short(b) => {
            m.insert("netbios".into(), Value::Null);
            m.insert("suffix".into(), Value::Null);
            m.insert("scope".into(), Value::Null);
            m.insert("raw".into(), hex(b).into());
        }
    }
}

fn name_record(r: &wrepl::NameRecord<'_>) -> Value {
    let mut m = Map::new();
    record_name(&mut m, &r.name);
    let f = r.flags;
    m.insert(
        "flags".into(),
        json!({
            "bits": f.0,
            "type": f.record_type() as u32,
            "state": f.state() as u32,
            "node": f.node_type() as u32,
            "static": f.is_static(),
            "local": f.is_local(),
        }),
    );
    m.insert("group".into(), r.group.into());
    m.insert("version".into(), r.version.into());
    match &r.addresses {
        Addresses::Single(a) => {
            m.insert("address".into(), a.to_string().into());
        }
        Addresses::List(l) => {
            m.insert(
                "addresses".into(),
                l.iter()
                    .map(
                        |p| json!({"owner": p.owner.to_string(), "address": p.address.to_string()}),
                    )
                    .collect::<Vec<_>>()
                    .into(),
            );
        }
    }
    m.insert("reserved".into(), r.reserved.into());
    Value::Object(m)
}

fn table(m: &mut Map<String, Value>, t: &wrepl::OwnerTable<'_>) {
    m.insert(
        "owners".into(),
        t.owners
            .iter()
            .map(|o| owner(&o))
            .collect::<Vec<_>>()
            .into(),
    );
    m.insert("initiator".into(), t.initiator.to_string().into());
}

fn message_name(t: wrepl::MessageType) -> &'static str {
    match t {
        wrepl::MessageType::StartAssociation => "start association",
        wrepl::MessageType::StartAssociationResponse => "start association response",
        wrepl::MessageType::StopAssociation => "stop association",
        wrepl::MessageType::Replication => "replication",
    }
}

fn repl_opcode_name(op: wrepl::ReplicationOpcode) -> &'static str {
    use wrepl::ReplicationOpcode::*;
    match op {
        OwnerVersionMapRequest => "owner-version map request",
        OwnerVersionMapResponse => "owner-version map response",
        NameRecordsRequest => "name records request",
        NameRecordsResponse => "name records response",
        Update => "update notification",
        UpdatePropagate => "update notification (propagate)",
        Inform => "update notification (persistent)",
        InformPropagate => "update notification (persistent, propagate)",
    }
}

/// The decoded fields of a WINS replication frame, added to `m`.
pub fn wrepl_fields(m: &mut Map<String, Value>, r: &wrepl::Repr<'_>) {
    m.insert("length".into(), (r.buffer_len() - wrepl::LENGTH_LEN).into());
    m.insert("opcode".into(), r.opcode.into());
    m.insert("assoc_ctx".into(), r.assoc_ctx.into());
    let mt = r.message.message_type();
    m.insert("message_type".into(), (mt as u32).into());
    m.insert("message_name".into(), message_name(mt).into());
    match &r.message {
        Message::StartAssociation(s) | Message::StartAssociationResponse(s) => {
            m.insert(
                "start".into(),
                json!({
                    "assoc_ctx": s.assoc_ctx,
                    "major_version": s.major_version,
                    "minor_version": s.minor_version,
                }),
            );
        }
        Message::StopAssociation(s) => {
            m.insert("stop".into(), json!({"reason": s.reason}));
        }
        Message::Replication(rep) => {
            let mut rm = Map::new();
            let op = rep.opcode();
            rm.insert("opcode".into(), (op as u32).into());
            rm.insert("opcode_name".into(), repl_opcode_name(op).into());
            match rep {
                Replication::OwnerVersionMapRequest => {}
                Replication::OwnerVersionMapResponse(t) => table(&mut rm, t),
                Replication::UpdateNotification { table: t, .. } => table(&mut rm, t),
                Replication::NameRecordsRequest(o) => {
                    rm.insert("owner".into(), owner(o));
                }
                Replication::NameRecordsResponse(recs) => {
                    rm.insert(
                        "records".into(),
                        recs.iter()
                            .map(|x| name_record(&x))
                            .collect::<Vec<_>>()
                            .into(),
                    );
                }
            }
            m.insert("replication".into(), Value::Object(rm));
        }
    }
    m.insert("padding".into(), r.padding.into());
}
