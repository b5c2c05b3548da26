//! `nbns-conform decode`: prints the NBNS and WINS replication messages of
//! captures or hex dumps (the dissector is [`crate::capture`]).

use crate::capture::decode::{self, Options};

/// `nbns-conform decode`'s options.
#[derive(Debug, Clone, clap::Args)]
pub struct DecodeArgs {
    /// One JSON object a line instead of text blocks.
    #[arg(long)]
    pub json: bool,
    /// .pcap or .pcapng files, or hex text files (one packet a line); `-` reads standard input.
    #[arg(value_name = "INPUT", required = true)]
    pub inputs: Vec<String>,
}

/// Runs the command; returns the exit status.
pub fn main(args: &DecodeArgs) -> i32 {
    decode::run(&Options {
        json: args.json,
        inputs: args.inputs.clone(),
    })
}
