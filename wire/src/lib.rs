//! `nbns-wire`: a zero-copy codec for the NetBIOS Name Service (RFC 1001/1002,
//! UDP 137) and WINS replication (MS-WINSRA, TCP 42).
//!
//! Each message has a checked view over bytes (`Packet`, `Frame`) and a plain
//! `Repr` with `parse` and `emit`, in the style of smoltcp's `wire` module.
//! Decoding never panics, allocates nothing, and does work linear in the
//! input length; errors say what is wrong and at which byte.
#![forbid(unsafe_code)]

pub mod error;
pub mod name;
pub mod nbns;
pub mod wrepl;

#[cfg(feature = "arbitrary")]
mod arbitrary;

pub use error::{Error, ErrorKind, Result, Section};
pub use name::{Labels, Name, NetbiosName};
