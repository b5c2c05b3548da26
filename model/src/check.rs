//! Running the checker on a scenario: progress lines, summary, counterexample traces.

use crate::scenarios::{self, Config, Scenario, SCENARIOS};
use crate::trace;
use crate::world::{self, Action, Net, Prop, State, World};
use crate::{Bug, Bugs};
use stateright::{Checker, CheckerBuilder, Expectation, HasDiscoveries, Model, UniformChooser};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Search order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Search {
    /// Breadth-first (shortest counterexamples).
    Bfs,
    /// Depth-first (less memory; symmetry reduction).
    Dfs,
}

/// How to check.
#[derive(Clone, Debug)]
pub struct Options {
    /// Switched-on bugs.
    pub bugs: Bugs,
    /// Checker threads.
    pub threads: usize,
    /// Search order.
    pub search: Search,
    /// Depth bound.
    pub depth: Option<usize>,
    /// Symmetry reduction (DFS).
    pub symmetry: bool,
    /// The configuration: CI or `--large`, chosen sizes, network semantics.
    pub config: Config,
    /// Random simulation for this long instead of an exhaustive check.
    pub simulate: Option<Duration>,
    /// The simulation's seed (None: from the clock).
    pub seed: Option<u64>,
    /// Print progress lines.
    pub progress: bool,
    /// Print counterexample traces.
    pub traces: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            bugs: Bugs::NONE,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            search: Search::Bfs,
            depth: None,
            symmetry: false,
            config: Config::new(false),
            simulate: None,
            seed: None,
            progress: true,
            traces: true,
        }
    }
}

/// What one check found.
#[derive(Clone, Debug)]
pub struct Report {
    /// Every `always`/`eventually` property held and every `sometimes` example was found.
    pub holds: bool,
    /// States generated.
    pub states: usize,
    /// Unique states.
    pub unique: usize,
    /// Deepest path.
    pub depth: usize,
    /// Wall time.
    pub elapsed: Duration,
    /// Properties with a counterexample.
    pub failed: Vec<&'static str>,
    /// `sometimes` properties with no example.
    pub unreached: Vec<&'static str>,
}

fn builder(w: World, opts: &Options) -> CheckerBuilder<World> {
    let mut b = w.checker().threads(opts.threads);
    if let Some(d) = opts.depth {
        b = b.target_max_depth(d);
    }
    if opts.symmetry {
        b = b.symmetry_fn(crate::world::representative);
    }
    // Stop at the first counterexample: stateright overwrites a property's discovery each
    // time it fails again, so running on would only lengthen the trace.
    b.finish_when(HasDiscoveries::AnyFailures)
}

fn run<C: Checker<World>>(c: C, opts: &Options, label: &str) -> (C, Duration) {
    let start = Instant::now();
    let mut last = Instant::now();
    while !c.is_done() {
        std::thread::sleep(Duration::from_millis(20));
        if opts.progress && last.elapsed() >= Duration::from_secs(1) {
            last = Instant::now();
            let secs = start.elapsed().as_secs_f64();
            eprintln!(
                "  [{label}] {:.0}s: states {}, unique {}, depth {}, {:.0} states/s",
                secs,
                c.state_count(),
                c.unique_state_count(),
                c.max_depth(),
                c.state_count() as f64 / secs
            );
        }
    }
    let c = c.join();
    (c, start.elapsed())
}

/// The network semantics in words, e.g. `network: delays on (early timers <= 2), duplicates
/// <= 1, losses <= 1`.
pub fn network_line(w: &World) -> String {
    let Net {
        delay,
        max_late,
        max_dups,
    } = w.net;
    if delay {
        let late = if max_late == u8::MAX {
            "early timers unbounded".to_string()
        } else {
            format!("early timers <= {max_late}")
        };
        format!(
            "network: delays on ({late}), duplicates <= {max_dups}, losses <= {}",
            w.max_drops
        )
    } else {
        format!(
            "network: delays off (timers fire only once nothing awaited is in flight), duplicates <= 0, losses <= {}",
            w.max_drops
        )
    }
}

/// Checks one scenario, prints a summary (and the counterexample traces). An invalid
/// configuration (a dimension the scenario does not take) is reported as an error.
pub fn check_one(sc: &Scenario, opts: &Options) -> Report {
    let w = match sc.configure(opts.bugs, &opts.config) {
        Ok(w) => w,
        Err(e) => panic!("{e}"),
    };
    println!("{}", network_line(&w));
    let mut label = format!("{} bugs={}", sc.name, opts.bugs);
    for (d, v) in opts.config.sizes.chosen() {
        label.push_str(&format!(" {} {v}", d.flag()));
    }
    if let Some(secs) = opts.simulate {
        return simulate(&w, secs, opts, &label);
    }
    let b = builder(w.clone(), opts);
    match opts.search {
        Search::Bfs => finish(&w, run(b.spawn_bfs(), opts, &label), opts, &label),
        Search::Dfs => finish(&w, run(b.spawn_dfs(), opts, &label), opts, &label),
    }
}

/// A seed from the clock.
pub fn clock_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64 % 1_000_000_000)
}

/// stateright's random simulation for `secs`: one simulation checker per thread, thread `t`
/// seeded with `seed + t` (a single-threaded simulation from one seed is deterministic, so
/// the seed that found a counterexample replays it: `--simulate S --seed N`, thread 0 runs
/// seed N). The first counterexample stops the others.
fn simulate(w: &World, secs: Duration, opts: &Options, label: &str) -> Report {
    let seed = opts.seed.unwrap_or_else(clock_seed);
    println!(
        "simulation: {:.0}s, {} thread(s), seed {seed} (thread t runs seed {seed}+t)",
        secs.as_secs_f64(),
        opts.threads
    );
    let stop = Arc::new(AtomicBool::new(false));
    let mut w = w.clone();
    w.stop = Some(stop.clone());
    let start = Instant::now();
    let checkers: Vec<_> = (0..opts.threads as u64)
        .map(|t| {
            let mut b = w.clone().checker().threads(1).timeout(secs);
            if let Some(d) = opts.depth {
                b = b.target_max_depth(d);
            }
            b.finish_when(HasDiscoveries::AnyFailures)
                .spawn_simulation(seed + t, UniformChooser)
        })
        .collect();
    let mut winner: Option<usize> = None;
    let mut last = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(20));
        if winner.is_none() {
            winner = checkers
                .iter()
                .position(|c| c.is_done() && c.discoveries().keys().any(|k| failing(&w, k)));
            if winner.is_some() {
                stop.store(true, Ordering::Relaxed);
            }
        }
        if checkers.iter().all(|c| c.is_done()) {
            break;
        }
        if opts.progress && last.elapsed() >= Duration::from_secs(1) {
            last = Instant::now();
            let n: usize = checkers.iter().map(|c| c.state_count()).sum();
            eprintln!(
                "  [{label}] {:.0}s: simulated states {n}",
                start.elapsed().as_secs_f64()
            );
        }
    }
    let elapsed = start.elapsed();
    let states: usize = checkers.iter().map(|c| c.state_count()).sum();
    let depth = checkers.iter().map(|c| c.max_depth()).max().unwrap_or(0);
    println!(
        "{label}: simulated states {states}, depth {depth}, {:.2}s, {:.0} states/s",
        elapsed.as_secs_f64(),
        states as f64 / elapsed.as_secs_f64().max(1e-9)
    );
    let mut r = Report {
        holds: true,
        states,
        unique: 0,
        depth,
        elapsed,
        failed: Vec::new(),
        unreached: Vec::new(),
    };
    let Some(t) = winner else {
        // Sometimes-examples seen on any run.
        for p in w.properties() {
            let kind = format!("{:?}", p.expectation).to_lowercase();
            let seen = checkers.iter().any(|c| c.discovery(p.name).is_some());
            let status = match (&p.expectation, seen) {
                (Expectation::Sometimes, true) => "ok",
                (Expectation::Sometimes, false) => "not seen",
                _ => "no counterexample",
            };
            println!("  {status:<17} {kind:<10} {}", p.name);
        }
        println!("no counterexample in the simulated runs (a simulation proves nothing)");
        return r;
    };
    let found = seed + t as u64;
    let c = &checkers[t];
    for p in w.properties() {
        let kind = format!("{:?}", p.expectation).to_lowercase();
        match (&p.expectation, c.discovery(p.name)) {
            (Expectation::Sometimes, _) => {}
            (_, None) => println!("  no counterexample {kind:<10} {}", p.name),
            (_, Some(path)) => {
                println!("  FAILED            {kind:<10} {}", p.name);
                r.failed.push(p.name);
                if opts.traces {
                    println!(
                        "\nCounterexample to \"{}\" ({label}), found by the simulation from seed {found}:",
                        p.name
                    );
                    println!(
                        "   (replay: nbns-model check {} --simulate {:.0} --seed {found} ...)",
                        w.name,
                        secs.as_secs_f64()
                    );
                    for b in w.bugs.iter() {
                        println!("   (KB {b}: {})", b.title());
                    }
                    print!("{}", trace::render(&w, &path.into_vec()));
                    println!();
                }
            }
        }
    }
    println!("counterexample seed: {found}");
    r.holds = r.failed.is_empty();
    r
}

fn finish<C: Checker<World>>(
    w: &World,
    (c, elapsed): (C, Duration),
    opts: &Options,
    label: &str,
) -> Report {
    let mut r = Report {
        holds: true,
        states: c.state_count(),
        unique: c.unique_state_count(),
        depth: c.max_depth(),
        elapsed,
        failed: Vec::new(),
        unreached: Vec::new(),
    };
    let rate = r.states as f64 / elapsed.as_secs_f64().max(1e-9);
    println!(
        "{label}: states {}, unique {}, depth {}, {:.2}s, {:.0} states/s",
        r.states,
        r.unique,
        r.depth,
        elapsed.as_secs_f64(),
        rate
    );
    let discoveries = c.discoveries();
    for p in w.properties() {
        let found = discoveries.get(p.name);
        let kind = format!("{:?}", p.expectation).to_lowercase();
        match (&p.expectation, found) {
            (Expectation::Sometimes, Some(_)) => println!("  ok        {kind:<10} {}", p.name),
            (Expectation::Sometimes, None) if discoveries.keys().any(|k| failing(w, k)) => {
                println!("  (stopped) {kind:<10} {}", p.name);
            }
            (Expectation::Sometimes, None) => {
                println!("  NOT SEEN  {kind:<10} {}", p.name);
                r.unreached.push(p.name);
            }
            (_, None) => println!("  ok        {kind:<10} {}", p.name),
            (_, Some(path)) => {
                println!("  FAILED    {kind:<10} {}", p.name);
                r.failed.push(p.name);
                if opts.traces {
                    // Stateright keeps the last path on which a property failed; a plain BFS
                    // finds the shortest one, which reads best.
                    let path = shortest_counterexample_to(w, &p, opts.depth)
                        .unwrap_or_else(|| path.clone().into_vec());
                    println!("\nCounterexample to \"{}\" ({}):", p.name, label);
                    for b in w.bugs.iter() {
                        println!("   (KB {b}: {})", b.title());
                    }
                    print!("{}", trace::render(w, &path));
                    println!();
                }
            }
        }
    }
    // `sometimes` examples count only for complete runs (a failure stops the run early).
    let complete = opts.depth.is_none() && r.failed.is_empty();
    r.holds = r.failed.is_empty() && (!complete || r.unreached.is_empty());
    r
}

/// The shortest counterexample to a property: for `always`, the shortest path to a state
/// where its condition is false; for `eventually`, the shortest path to a terminal state
/// (no step left) where it is false.
pub fn shortest_counterexample_to(
    w: &World,
    p: &Prop,
    depth: Option<usize>,
) -> Option<Vec<(State, Option<Action>)>> {
    let cond = p.condition;
    match p.expectation {
        Expectation::Eventually => {
            shortest_path_to(w, |w, s| !cond(w, s) && world::terminal(w, s), depth)
        }
        _ => shortest_path_to(w, |w, s| !cond(w, s), depth),
    }
}

/// Breadth-first search for the shortest path to a state where `condition` is false.
pub fn shortest_counterexample(
    w: &World,
    condition: fn(&World, &State) -> bool,
    depth: Option<usize>,
) -> Option<Vec<(State, Option<Action>)>> {
    shortest_path_to(w, |w, s| !condition(w, s), depth)
}

/// Breadth-first search for the shortest path to a state where `bad` holds.
pub fn shortest_path_to(
    w: &World,
    bad: impl Fn(&World, &State) -> bool,
    depth: Option<usize>,
) -> Option<Vec<(State, Option<Action>)>> {
    let mut seen: HashMap<State, usize> = HashMap::new();
    // (state, (parent, action), depth)
    type Node = (State, Option<(usize, Action)>, usize);
    let mut nodes: Vec<Node> = Vec::new();
    let mut queue = std::collections::VecDeque::new();
    for s in w.init_states() {
        if seen.insert(s.clone(), nodes.len()).is_none() {
            queue.push_back(nodes.len());
            nodes.push((s, None, 0));
        }
    }
    let mut acts = Vec::new();
    while let Some(i) = queue.pop_front() {
        if bad(w, &nodes[i].0) {
            let mut path = vec![(nodes[i].0.clone(), None)];
            let mut at = i;
            while let Some((parent, a)) = nodes[at].1.clone() {
                path.push((nodes[parent].0.clone(), Some(a)));
                at = parent;
            }
            path.reverse();
            return Some(path);
        }
        if depth.is_some_and(|d| nodes[i].2 + 1 >= d) {
            continue;
        }
        acts.clear();
        w.actions(&nodes[i].0, &mut acts);
        for a in acts.drain(..) {
            if let Some(next) = w.next_state(&nodes[i].0, a.clone()) {
                if !seen.contains_key(&next) {
                    seen.insert(next.clone(), nodes.len());
                    queue.push_back(nodes.len());
                    let d = nodes[i].2 + 1;
                    nodes.push((next, Some((i, a)), d));
                }
            }
        }
    }
    None
}

fn failing(w: &World, name: &str) -> bool {
    w.properties()
        .iter()
        .any(|p| p.name == name && p.expectation != Expectation::Sometimes)
}

/// Checks every scenario with all fixes (each must hold) and every bug in its scenario (each
/// must break its property). Returns true when all of that is so.
pub fn check_all(opts: &Options) -> bool {
    let start = Instant::now();
    let mut ok = true;
    println!("== every scenario with all fixes: every property must hold");
    for sc in &SCENARIOS {
        let o = Options {
            bugs: Bugs::NONE,
            ..opts.clone()
        };
        let r = check_one(sc, &o);
        if !r.holds {
            println!("  => UNEXPECTED: {} does not hold", sc.name);
            ok = false;
        }
    }
    println!("\n== every bug: the checker must find a counterexample");
    for bug in Bug::ALL {
        let sc = scenarios::for_bug(bug);
        let o = Options {
            bugs: bug.into(),
            traces: false,
            ..opts.clone()
        };
        let r = check_one(sc, &o);
        let want = scenarios::broken_by(bug);
        if r.failed.contains(&want) {
            println!(
                "  => as expected, {bug} breaks \"{want}\" (trace: nbns-model check --bug {bug})"
            );
        } else {
            println!("  => UNEXPECTED: {bug} did not break \"{want}\"");
            ok = false;
        }
    }
    println!(
        "\n{} in {:.2}s",
        if ok {
            "ALL AS EXPECTED"
        } else {
            "SOME CHECKS FAILED"
        },
        start.elapsed().as_secs_f64()
    );
    ok
}

/// Serves stateright's Explorer for a scenario (blocks).
pub fn explore(sc: &Scenario, bugs: Bugs, config: &Config, addr: &str) -> Result<(), String> {
    let w = sc.configure(bugs, config)?;
    w.checker().serve(addr);
    Ok(())
}
