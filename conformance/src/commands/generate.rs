//! `nbns-conform generate`: explores the model's WINS server and writes one script per
//! distinct path ([`crate::generate`]).

use crate::generate::{self, Options};
use std::path::PathBuf;

/// `nbns-conform generate`'s options.
#[derive(Debug, Clone, clap::Args)]
pub struct GenerateArgs {
    /// Where the scripts go (its `.nbt` files are replaced).
    #[arg(
        long,
        value_name = "DIR",
        default_value = "conformance/scripts-generated"
    )]
    pub out: PathBuf,
    /// Longest sequence of requests explored.
    #[arg(long, value_name = "N", default_value_t = Options::default().depth)]
    pub depth: usize,
    /// Most scripts per name (`<00>`, `<1C>`, `<1D>`); 0 for no limit.
    #[arg(long, value_name = "N", default_value_t = Options::default().max_per_name)]
    pub max: usize,
    /// Silent holders (a challenge timeout each when run) only in sequences of at most
    /// this many steps.
    #[arg(long, value_name = "N", default_value_t = Options::default().silent_depth)]
    pub silent_depth: usize,
    /// Requests sent while a challenge runs (a retransmission, a third registrant, the
    /// holder releasing, ...) only in sequences of at most this many steps.
    #[arg(long, value_name = "N", default_value_t = Options::default().mid_depth)]
    pub mid_depth: usize,
    /// Longest sequence of the timer scripts (names registered with a short TTL that run
    /// out while the script waits; every wait costs seconds of a run).
    #[arg(long, value_name = "N", default_value_t = Options::default().timer_depth)]
    pub timer_depth: usize,
}

/// Runs the command; returns the exit status.
pub fn main(args: &GenerateArgs) -> i32 {
    let opts = Options {
        depth: args.depth,
        max_per_name: args.max,
        silent_depth: args.silent_depth,
        mid_depth: args.mid_depth,
        timer_depth: args.timer_depth,
    };
    let (scripts, stats) = generate::generate(&opts);
    if let Err(e) = generate::write(&args.out, &scripts) {
        eprintln!("error: cannot write {}: {e}", args.out.display());
        return 2;
    }
    println!(
        "generated {} scripts in {} ({} sequences explored, {} distinct paths, {} distinct steps, {} with a challenge timeout)",
        scripts.len(),
        args.out.display(),
        stats.explored,
        stats.distinct,
        stats.step_signatures,
        stats.with_timeout
    );
    0
}
