//! `nbns-model`: check the NBNS/WINS model, print counterexamples, open the Explorer.
#![forbid(unsafe_code)]

use nbns_model::check::{self, Options, Search};
use nbns_model::scenarios::{self, Dim, SCENARIOS};
use nbns_model::{Bug, Bugs};
use std::process::ExitCode;

const HELP: &str = "\
nbns-model: a stateright model of NBNS/WINS clients, servers and replication that rediscovers
five Microsoft KB bugs (each a switch) and checks that the fixed behaviour keeps every promise.

USAGE:
    nbns-model list
    nbns-model check [SCENARIO | --all] [--bug ID]... [--threads N] [--bfs | --dfs]
                     [--depth N] [--symmetry] [--large] [--quiet]
                     [--no-delay | --early-timers N --duplicates N]
                     [--clients N] [--names N] [--servers N] [--losses N] [--restarts N]
                     [--simulate SECONDS [--seed N]]
    nbns-model explore SCENARIO [--bug ID]... [--addr 127.0.0.1:3000] [--large] [--no-delay]
                     [--clients N] [--names N] [--servers N] [--losses N] [--restarts N]
    nbns-model --help

COMMANDS:
    list      the scenarios, their actors, properties, the sizes each takes (with their CI
              and --large values and bounds) and the bug each can switch on
    check     explore a scenario's whole bounded state space and check its properties.
              The first line says the network semantics used. Exit 0 when every property
              holds (and every `sometimes` example is found), 1 when one fails: the
              counterexample is printed as a numbered message sequence. `--all` checks
              every scenario with all fixes (must hold) and each bug in its scenario (must
              fail) and exits 0 when all of that is so. `--bug ID` without a scenario
              checks the bug's own scenario.
    explore   serve stateright's Explorer web UI for a scenario (default 127.0.0.1:3000)

OPTIONS:
    --bug ID       switch a KB bug on: Q153073 Q135277 Q124565 Q184832 Q164016 (repeatable)
    --threads N    checker threads (default: available cores)
    --bfs | --dfs  search order (default bfs: shortest counterexamples)
    --depth N      stop exploring below depth N (bounded check)
    --symmetry     DFS with symmetry reduction: in challenge the two hosts are
                   interchangeable (a state and its mirror image count once, about half
                   the states); other scenarios use the identity
    --large        the bigger configuration of the scenario (see README)
    --no-delay     the original network semantics: a timer fires only once nothing its
                   party waits for is in flight, no duplicates (default: delay mode, timers
                   race late messages, one datagram may be duplicated)
    --early-timers N  delay mode: most timers a run that fire while what they wait for is
                   in flight (default per scenario, see `list`; 255 = unbounded)
    --duplicates N delay mode: most datagrams the network duplicates a run (default 1)
    --clients N --names N --servers N --losses N --restarts N
                   the scenario's dimensions (only those `list` shows for it; bounds
                   checked); they override the CI or --large values
    --simulate SECONDS
                   stateright's random simulation instead of an exhaustive check, for
                   configurations too big to exhaust; prints its seed
    --seed N       the simulation's seed (replays the counterexample a run found from N)
    --quiet        no progress lines
";

fn usage(msg: &str) -> ExitCode {
    eprintln!("nbns-model: {msg}\nTry `nbns-model --help`.");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = args.first() else {
        return usage("missing command (list, check, explore)");
    };
    match cmd.as_str() {
        "-h" | "--help" | "help" => {
            print!("{HELP}");
            ExitCode::SUCCESS
        }
        "list" => {
            if args.len() > 1 {
                return usage("`list` takes no arguments");
            }
            list();
            ExitCode::SUCCESS
        }
        "check" | "explore" => {
            let mut opts = Options::default();
            let mut scenario: Option<String> = None;
            let mut all = false;
            let mut addr = "127.0.0.1:3000".to_string();
            let mut it = args[1..].iter();
            while let Some(a) = it.next() {
                let mut value = |flag: &str| {
                    it.next()
                        .cloned()
                        .ok_or_else(|| format!("{flag} needs a value"))
                };
                match a.as_str() {
                    "-h" | "--help" => {
                        print!("{HELP}");
                        return ExitCode::SUCCESS;
                    }
                    "--all" => all = true,
                    "--bug" => match value("--bug").map(|v| (Bug::parse(&v), v)) {
                        Ok((Some(b), _)) => opts.bugs = opts.bugs.with(b),
                        Ok((None, v)) => {
                            return usage(&format!(
                            "unknown bug `{v}` (known: Q153073 Q135277 Q124565 Q184832 Q164016)"
                        ))
                        }
                        Err(e) => return usage(&e),
                    },
                    "--threads" => match value("--threads").map(|v| v.parse::<usize>()) {
                        Ok(Ok(n)) if n > 0 => opts.threads = n,
                        Ok(_) => return usage("--threads needs a positive number"),
                        Err(e) => return usage(&e),
                    },
                    "--depth" => match value("--depth").map(|v| v.parse::<usize>()) {
                        Ok(Ok(n)) if n > 0 => opts.depth = Some(n),
                        Ok(_) => return usage("--depth needs a positive number"),
                        Err(e) => return usage(&e),
                    },
                    "--no-delay" => opts.config = opts.config.no_delay(),
                    "--simulate" => match value("--simulate").map(|v| v.parse::<f64>()) {
                        Ok(Ok(n)) if n > 0.0 && n < 1e7 => {
                            opts.simulate = Some(std::time::Duration::from_secs_f64(n))
                        }
                        Ok(_) => return usage("--simulate needs a positive number of seconds"),
                        Err(e) => return usage(&e),
                    },
                    "--early-timers" | "--duplicates" => match value(a).map(|v| v.parse::<u8>()) {
                        Ok(Ok(n)) if a == "--early-timers" => opts.config.early_timers = Some(n),
                        Ok(Ok(n)) => opts.config.duplicates = Some(n),
                        Ok(Err(_)) => return usage(&format!("{a} needs a number from 0 to 255")),
                        Err(e) => return usage(&e),
                    },
                    "--seed" => match value("--seed").map(|v| v.parse::<u64>()) {
                        Ok(Ok(n)) => opts.seed = Some(n),
                        Ok(_) => return usage("--seed needs a number"),
                        Err(e) => return usage(&e),
                    },
                    f if Dim::parse(f).is_some() => {
                        let d = Dim::parse(f).expect("checked");
                        match value(f).map(|v| v.parse::<u8>()) {
                            Ok(Ok(n)) => opts.config.sizes.set(d, n),
                            Ok(Err(_)) => {
                                return usage(&format!("{f} needs a number from 0 to 255"))
                            }
                            Err(e) => return usage(&e),
                        }
                    }
                    "--addr" => match value("--addr") {
                        Ok(v) => addr = v,
                        Err(e) => return usage(&e),
                    },
                    "--bfs" => opts.search = Search::Bfs,
                    "--dfs" => opts.search = Search::Dfs,
                    "--symmetry" => opts.symmetry = true,
                    "--large" => opts.config.large = true,
                    "--quiet" => opts.progress = false,
                    s if s.starts_with('-') => return usage(&format!("unknown option `{s}`")),
                    s => {
                        if scenario.is_some() {
                            return usage("give one scenario (or --all)");
                        }
                        if scenarios::find(s).is_none() {
                            let names: Vec<&str> = SCENARIOS.iter().map(|s| s.name).collect();
                            return usage(&format!(
                                "unknown scenario `{s}` (known: {})",
                                names.join(", ")
                            ));
                        }
                        scenario = Some(s.to_string());
                    }
                }
            }
            if opts.symmetry && opts.search == Search::Bfs {
                opts.search = Search::Dfs; // stateright applies symmetry in DFS only
            }
            if opts.config.net.is_some()
                && (opts.config.early_timers.is_some() || opts.config.duplicates.is_some())
            {
                return usage(
                    "--early-timers and --duplicates are delay mode's; not with --no-delay",
                );
            }
            if opts.seed.is_some() && opts.simulate.is_none() {
                return usage("--seed goes with --simulate SECONDS");
            }
            if opts.simulate.is_some() && (all || opts.symmetry) {
                return usage("--simulate checks one scenario (no --all, no --symmetry)");
            }
            if all && opts.config.sizes.chosen().next().is_some() {
                return usage("--all checks the CI configurations; give sizes with one scenario");
            }
            if cmd == "explore" {
                if all {
                    return usage("`explore` takes one scenario, not --all");
                }
                let Some(name) = scenario else {
                    return usage("`explore` needs a scenario");
                };
                let sc = scenarios::find(&name).expect("checked");
                if let Err(e) = sc.configure(opts.bugs, &opts.config) {
                    return usage(&e);
                }
                println!(
                    "Explorer for {} (bugs: {}) on http://{addr}",
                    sc.name, opts.bugs
                );
                if let Err(e) = check::explore(sc, opts.bugs, &opts.config, &addr) {
                    return usage(&e);
                }
                return ExitCode::SUCCESS;
            }
            let ok = if all {
                if scenario.is_some() || !opts.bugs.is_empty() {
                    return usage("--all checks every scenario and every bug; give no scenario or --bug with it");
                }
                check::check_all(&opts)
            } else {
                let sc = match (&scenario, opts.bugs.iter().next()) {
                    (Some(name), _) => scenarios::find(name).expect("checked"),
                    (None, Some(b)) => scenarios::for_bug(b),
                    (None, None) => return usage("`check` needs a scenario, --bug ID or --all"),
                };
                if let Err(e) = sc.configure(opts.bugs, &opts.config) {
                    return usage(&e);
                }
                check::check_one(sc, &opts).holds
            };
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        other => usage(&format!("unknown command `{other}`")),
    }
}

fn list() {
    for sc in &SCENARIOS {
        println!("{}", sc.name);
        println!("    actors:  {}", sc.about);
        match sc.bug {
            Some(b) => println!("    bug:     --bug {b}  (KB {b}: {})", b.title()),
            None => println!("    bug:     none (base registration rules)"),
        }
        if sc.dims.is_empty() {
            println!("    sizes:   none");
        } else {
            println!("    sizes:   (CI / --large value, bounds)");
            for d in sc.dims {
                let delay = if d.delay == (d.ci, d.large) {
                    String::new()
                } else {
                    format!(", in delay mode {} / {}", d.delay.0, d.delay.1)
                };
                println!(
                    "      {:<11} {} / {}{delay}  ({}..={}; {})",
                    format!("{} N", d.dim.flag()),
                    d.ci,
                    d.large,
                    d.min,
                    d.max,
                    d.why
                );
            }
        }
        let n = sc.default_net();
        println!(
            "    network: delay mode: early timers <= {}, duplicates <= {} (--no-delay: neither)",
            if n.max_late == u8::MAX {
                "unbounded".to_string()
            } else {
                n.max_late.to_string()
            },
            n.max_dups
        );
        println!("    properties:");
        let w = sc.build(Bugs::NONE, false);
        for p in stateright::Model::properties(&w) {
            println!(
                "      {:<9} {}",
                format!("{:?}", p.expectation).to_lowercase(),
                p.name
            );
        }
    }
}
