//! `nbns-conform validate`: replays captures of a real WINS server through the model's
//! server and flags every answer the model would not give ([`crate::validate`]).

use crate::validate::{self, Options};
use std::net::Ipv4Addr;
use std::path::PathBuf;

/// `nbns-conform validate`'s options.
#[derive(Debug, Clone, clap::Args)]
pub struct ValidateArgs {
    /// The WINS server's IPv4 address; by default the address that sent the most
    /// registration, release and WACK responses.
    #[arg(long, value_name = "IP")]
    pub server: Option<Ipv4Addr>,
    /// The server's NetBIOS name: it holds NAME<00> and NAME<20> itself, so answers about
    /// them are judged from the first packet.
    #[arg(long, value_name = "NAME")]
    pub server_name: Option<String>,
    /// The capture starts with the server's database empty (a fresh server): every name is
    /// judged from its first packet. Without it a name is judged only once an answer of the
    /// server has shown its record.
    #[arg(long)]
    pub from_start: bool,
    /// One JSON object a line (each divergence, then the totals).
    #[arg(long)]
    pub json: bool,
    /// The server's known deviations: the `rule ID` entries of an expectations file (see
    /// `run --help`) mark the divergences they name as known; repeatable.
    #[arg(long, value_name = "FILE")]
    pub expect: Vec<PathBuf>,
    /// .pcap or .pcapng captures (UDP 137 is read; each capture is replayed on its own).
    #[arg(value_name = "CAPTURE", required = true)]
    pub inputs: Vec<String>,
}

/// Runs the command; returns the exit status.
pub fn main(args: &ValidateArgs) -> i32 {
    validate::run(&Options {
        inputs: args.inputs.clone(),
        server: args.server,
        server_name: args.server_name.clone(),
        from_start: args.from_start,
        json: args.json,
        expect: args.expect.clone(),
    })
}
