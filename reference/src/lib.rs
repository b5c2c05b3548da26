//! `nbns-reference`: the reference WINS server and client, built on
//! `nbns-model`'s state machines (the code the model checker explores) and
//! run on real sockets.
//!
//! From the bottom up: [`wire_name`] (the name key), [`model_wire`] (model
//! <-> codec conversions), [`packet_layer`] (NBNS bytes in and out around the
//! server state machine, deterministic), [`db`] (the durable database),
//! [`replication`] (MS-WINSRA service, records, connections), [`server`] (the
//! whole WINS server: packet layer, database and replication under one
//! lock), [`embedded`] (the server on a thread, or in the foreground) and
//! [`client`] (the model's client state machine on real sockets).
//!
//! Embedding the server in a test:
//!
//! ```
//! use nbns_reference::EmbeddedServer;
//! # fn main() -> std::io::Result<()> {
//! let server = EmbeddedServer::start(137)?; // 127.0.0.2, a free port, in-memory database
//! let addr = server.addr();                  // send NBNS packets here
//! # let _ = addr;
//! server.stop()?;
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]

pub mod client;
pub mod db;
pub mod embedded;
pub mod model_wire;
pub mod packet_layer;
pub mod replication;
pub mod server;
pub mod wire_name;

pub use embedded::EmbeddedServer;
pub use packet_layer::{PacketConfig, PacketLayer};
pub use server::{ServerHandle, WinsServer, WinsServerConfig};
pub use wire_name::WireName;
