//! `nbns-conformance`: packet scripts, the runner that fires them at an NBNS
//! or WINS target, and the reports it writes.

#![forbid(unsafe_code)]

pub mod capture;
pub mod client_role;
pub mod db;
pub mod decode;
pub mod expectations;
pub mod json;
pub mod model_wire;
pub mod net;
pub mod reassembly;
pub mod reference;
pub mod reference_client;
pub mod report;
pub mod run_cmd;
pub mod runner;
pub mod script;
pub mod serve;
pub mod steps;
pub mod suite;
pub mod wins;
pub mod wrepl_holders;
pub mod wrepl_matrix;
pub mod wrepl_partner;
pub mod wrepl_records;
pub mod wrepl_run;
pub mod wrepl_service;
