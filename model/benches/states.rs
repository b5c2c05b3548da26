//! States per second of the largest CI scenario (and its `--large` variant) on 2 threads.
//! Run: `cargo bench -p nbns-model --bench states`. Output: one stable line per run.

use nbns_model::scenarios;
use nbns_model::Bugs;
use stateright::{Checker, Model};
use std::time::Instant;

fn main() {
    let threads = 2;
    for (name, large) in [("challenge", false), ("challenge", true)] {
        let w = scenarios::find(name).unwrap().build(Bugs::NONE, large);
        let start = Instant::now();
        let c = w.checker().threads(threads).spawn_bfs().join();
        let secs = start.elapsed().as_secs_f64();
        println!(
            "bench {name}{} threads={threads}: states {} unique {} depth {} {:.3}s {:.0} states/s {:.0} unique/s",
            if large { " --large" } else { "" },
            c.state_count(),
            c.unique_state_count(),
            c.max_depth(),
            secs,
            c.state_count() as f64 / secs,
            c.unique_state_count() as f64 / secs
        );
    }
}
