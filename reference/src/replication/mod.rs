//! WINS replication (MS-WINSRA, TCP 42): the server's replication service,
//! the conversions between the server's records and replication records, and
//! the connection toolkit both the service and the conformance runner's
//! replication partner use.

pub mod conn;
pub mod records;
pub mod service;

pub use service::{ReplicaDb, ReplicationConfig, ReplicationService, ReplicationStats};
