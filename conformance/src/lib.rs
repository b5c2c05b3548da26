//! `nbns-conformance`: packet scripts, the runner that fires them at an NBNS
//! or WINS target, and the reports it writes.

pub mod capture;
pub mod decode;
pub mod expectations;
pub mod json;
pub mod net;
pub mod reassembly;
pub mod reference;
pub mod report;
pub mod run_cmd;
pub mod runner;
pub mod script;
pub mod serve;
pub mod steps;
pub mod suite;
