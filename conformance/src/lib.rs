//! `nbns-conformance`: packet scripts ([`script`]), the runner that fires them
//! at an NBNS or WINS target in one of its roles ([`roles`], over the sockets
//! of [`net`]), what it concludes and reports ([`verdict`]), the dissector
//! ([`capture`]), the strict layout check of every packet a target sends
//! ([`strict`]), the replay of captures through the model ([`validate`]) and the
//! subcommands of `nbns-conform` ([`commands`]). The
//! reference server and client it tests against by default are the
//! `nbns-reference` crate.

#![forbid(unsafe_code)]

pub mod capture;
pub mod commands;
pub mod generate;
pub mod net;
pub mod roles;
pub mod script;
pub mod strict;
pub mod validate;
pub mod verdict;
