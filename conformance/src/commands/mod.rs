//! One module a subcommand of `nbns-conform`: `coverage`, `decode`, `diff`, `generate`, `run`, `serve`,
//! `validate`.

pub mod coverage;
pub mod decode;
pub mod diff;
pub mod generate;
pub mod run;
pub mod serve;
pub mod validate;
