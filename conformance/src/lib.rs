//! `nbns-conformance`: packet scripts, the runner that fires them at an NBNS
//! or WINS target, and the reports it writes.

pub mod script;
pub mod steps;
pub mod capture;
pub mod decode;
pub mod json;
pub mod reassembly;
pub mod net;
pub mod runner;
pub mod expectations;
pub mod report;
pub mod suite;
pub mod reference;
pub mod run_cmd;
pub mod serve;
