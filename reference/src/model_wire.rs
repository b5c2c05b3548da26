//! The model's small protocol enums (`nbns_model::proto`, independent of any
//! codec) to and from the codec's (`nbns_wire::nbns`), for the reference
//! server and the reference client, which both put a model state machine
//! behind real packets.

use nbns_model::proto;
use nbns_wire::nbns::{Compression, NodeType, Opcode, Rcode, Repr};

pub fn model_node(n: NodeType) -> proto::NodeType {
    match n {
        NodeType::B => proto::NodeType::B,
        NodeType::P => proto::NodeType::P,
        NodeType::M => proto::NodeType::M,
        NodeType::H => proto::NodeType::H,
    }
}

pub fn wire_node(n: proto::NodeType) -> NodeType {
    match n {
        proto::NodeType::B => NodeType::B,
        proto::NodeType::P => NodeType::P,
        proto::NodeType::M => NodeType::M,
        proto::NodeType::H => NodeType::H,
    }
}

/// The model's rcode; `None` for a code the model does not know (each
/// caller decides what such a code means to it).
pub fn model_rcode(r: Rcode) -> Option<proto::Rcode> {
    Some(match r {
        Rcode::NoError => proto::Rcode::Ok,
        Rcode::FmtErr => proto::Rcode::FmtErr,
        Rcode::SrvErr => proto::Rcode::SrvErr,
        Rcode::NamErr => proto::Rcode::NamErr,
        Rcode::ImpErr => proto::Rcode::ImpErr,
        Rcode::RfsErr => proto::Rcode::RfsErr,
        Rcode::ActErr => proto::Rcode::ActErr,
        Rcode::CftErr => proto::Rcode::CftErr,
        Rcode::Unknown(_) => return None,
    })
}

pub fn wire_rcode(r: proto::Rcode) -> Rcode {
    match r {
        proto::Rcode::Ok => Rcode::NoError,
        proto::Rcode::FmtErr => Rcode::FmtErr,
        proto::Rcode::SrvErr => Rcode::SrvErr,
        proto::Rcode::NamErr => Rcode::NamErr,
        proto::Rcode::ImpErr => Rcode::ImpErr,
        proto::Rcode::RfsErr => Rcode::RfsErr,
        proto::Rcode::ActErr => Rcode::ActErr,
        proto::Rcode::CftErr => Rcode::CftErr,
    }
}

/// The model's opcode; `None` for one the model has no use for.
pub fn model_opcode(op: Opcode) -> Option<proto::Opcode> {
    Some(match op {
        Opcode::Query => proto::Opcode::Query,
        Opcode::Registration => proto::Opcode::Registration,
        Opcode::Release => proto::Opcode::Release,
        Opcode::Wack => proto::Opcode::Wack,
        Opcode::Refresh | Opcode::RefreshAlt => proto::Opcode::Refresh,
        Opcode::MultihomedRegistration => proto::Opcode::MultihomedRegistration,
        _ => return None,
    })
}

/// `repr` as bytes (empty if it cannot be written, which a valid `Repr`
/// never is).
pub fn emit(repr: &Repr<'_>, c: Compression) -> Vec<u8> {
    let mut buf = vec![0u8; repr.buffer_len(c)];
    let n = repr.emit(&mut buf, c).unwrap_or(0);
    buf.truncate(n);
    buf
}
