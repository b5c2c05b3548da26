//! One module a subcommand of `nbns-conform`: `decode`, `run`, `serve`.

pub mod decode;
pub mod run;
pub mod serve;
