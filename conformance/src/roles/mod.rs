//! What the runner plays against a target: NBNS clients of a server
//! ([`server`]), the WINS servers of a client ([`client`]), or WINS
//! replication partners ([`replication`]). All roles share their options
//! ([`options`]), the step engine ([`runner`]) and running a suite
//! ([`suite`]).

pub mod client;
pub mod diff;
pub mod options;
pub mod partners;
pub mod replication;
pub mod runner;
pub mod server;
pub mod suite;
