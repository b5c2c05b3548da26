//! The dissector behind `nbns-conform decode`: reading pcap and pcapng
//! ([`pcap`]), TCP reassembly per flow ([`reassembly`]), printing every NBNS
//! and WINS replication message as text ([`decode`]) or JSON ([`json`]).

pub mod decode;
pub mod json;
pub mod pcap;
pub mod reassembly;
