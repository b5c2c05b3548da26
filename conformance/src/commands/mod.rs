//! One module a subcommand of `nbns-conform`: `coverage`, `decode`, `run`, `serve`.

pub mod coverage;
pub mod decode;
pub mod run;
pub mod serve;
