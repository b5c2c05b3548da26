//! WINS replication frames (TCP 42) held against MS-WINSRA 2.2: the frames a target sends on
//! the runner's replication connections, checked for the layout of their message whatever
//! the case that provoked them looks at.

use super::Violation;
use nbns_wire::wrepl::{
    Flags, OwnedMessage, OwnedRecordName, OwnedReplication, OwnedRepr, ParseOptions, RecordType,
    Repr, START_PADDING, STOP_PADDING,
};

/// The frames one connection received, in order, with the runner's association handle.
pub fn check_connection(our_ctx: u32, frames: &[Vec<u8>]) -> Vec<Violation> {
    let mut v = Vec::new();
    for bytes in frames {
        check_frame(&mut v, our_ctx, bytes);
    }
    v
}

fn check_frame(v: &mut Vec<Violation>, our_ctx: u32, bytes: &[u8]) {
    let repr = match Repr::parse_bytes(bytes, ParseOptions::default()) {
        Ok(r) => OwnedRepr::from_repr(&r),
        Err(e) => {
            v.push(Violation::new(
                "WINSRA-2.2-FRAME-PARSES",
                format!("a frame of {} bytes does not parse: {e}", bytes.len()),
            ));
            return;
        }
    };
    // The length word counts everything after itself.
    let length = bytes
        .get(..4)
        .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    if length as usize + 4 != bytes.len() {
        v.push(Violation::new(
            "WINSRA-2.2.2-LENGTH",
            format!(
                "the length word says {length}, the frame has {} bytes after it",
                bytes.len().saturating_sub(4)
            ),
        ));
    }
    if !matches!(repr.message, OwnedMessage::StartAssociation(_)) && repr.assoc_ctx != our_ctx {
        v.push(Violation::new(
            "WINSRA-2.2.2-DEST-HANDLE",
            format!(
                "{}: the destination handle is 0x{:08x}, not ours (0x{our_ctx:08x})",
                message_name(&repr.message),
                repr.assoc_ctx
            ),
        ));
    }
    match &repr.message {
        // Handle, major, minor, 21 reserved bytes after the 12-byte header: 41.
        OwnedMessage::StartAssociationResponse(s)
            if length != 12 + 8 + START_PADDING || s.major_version != 2 =>
        {
            v.push(Violation::new(
                "WINSRA-2.2.4-START-RESPONSE",
                format!(
                    "a start response is length 41 with major version 2; got length {length}, \
                     version {}.{}",
                    s.major_version, s.minor_version
                ),
            ));
        }
        OwnedMessage::StopAssociation(s)
            if length != 12 + 4 + STOP_PADDING || !matches!(s.reason, 0 | 4) =>
        {
            v.push(Violation::new(
                "WINSRA-2.2.5-STOP-FORMAT",
                format!(
                    "a stop is length 40 with reason 0 or 4; got length {length}, reason {}",
                    s.reason
                ),
            ));
        }
        OwnedMessage::Replication(OwnedReplication::OwnerVersionMapResponse { owners, .. }) => {
            for o in owners {
                if o.min_version > o.max_version {
                    v.push(Violation::new(
                        "WINSRA-2.2.7-MAP-RESPONSE-FORMAT",
                        format!(
                            "owner {}: min version {} above max version {}",
                            o.address, o.min_version, o.max_version
                        ),
                    ));
                }
            }
        }
        OwnedMessage::Replication(OwnedReplication::NameRecordsResponse(records)) => {
            for r in records {
                check_record(v, r);
            }
        }
        _ => {}
    }
}

fn check_record(v: &mut Vec<Violation>, r: &nbns_wire::wrepl::OwnedNameRecord) {
    let name = match &r.name {
        OwnedRecordName::Netbios { name, scope } => {
            format!(
                "{name}{}{}",
                if scope.is_empty() { "" } else { "." },
                String::from_utf8_lossy(scope)
            )
        }
        OwnedRecordName::Short(b) => String::from_utf8_lossy(b).into_owned(),
    };
    let t = r.flags.record_type();
    let group = matches!(t, RecordType::Group | RecordType::SpecialGroup);
    if r.group != u32::from(group) {
        v.push(Violation::new(
            "WINSRA-2.2.10.1-GROUP-BYTE",
            format!("{name}: group byte {} for a {t:?} record", r.group),
        ));
    }
    if r.reserved != nbns_wire::wrepl::RECORD_RESERVED {
        v.push(Violation::new(
            "WINSRA-2.2.10.1-RESERVED-FF",
            format!(
                "{name}: the record ends with 0x{:08x}, not 0xffffffff",
                r.reserved
            ),
        ));
    }
    let bad_flags = r.flags.0
        & !(Flags::RECORD_TYPE | Flags::STATE | Flags::LOCAL | Flags::NODE_TYPE | Flags::STATIC);
    if bad_flags != 0 {
        v.push(Violation::new(
            "WINSRA-2.2.10.1-FLAGS",
            format!("{name}: flags 0x{:02x} set reserved bits", r.flags.0),
        ));
    }
}

fn message_name(m: &OwnedMessage) -> &'static str {
    match m {
        OwnedMessage::StartAssociation(_) => "start association",
        OwnedMessage::StartAssociationResponse(_) => "start association response",
        OwnedMessage::StopAssociation(_) => "stop association",
        OwnedMessage::Replication(OwnedReplication::OwnerVersionMapRequest) => "map request",
        OwnedMessage::Replication(OwnedReplication::OwnerVersionMapResponse { .. }) => {
            "map response"
        }
        OwnedMessage::Replication(OwnedReplication::NameRecordsRequest(_)) => {
            "send-entries request"
        }
        OwnedMessage::Replication(OwnedReplication::NameRecordsResponse(_)) => "send-entries reply",
        OwnedMessage::Replication(OwnedReplication::UpdateNotification { .. }) => {
            "update notification"
        }
    }
}
