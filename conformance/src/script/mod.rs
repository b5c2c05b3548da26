//! Packet scripts: the text format ([`format`](mod@format)), the typed steps a runner
//! executes once a run's variables are in ([`steps`]), and loading a script
//! library from files and directories ([`library`]).

pub mod format;
pub mod library;
pub mod steps;

pub use format::{Script, ScriptError};
