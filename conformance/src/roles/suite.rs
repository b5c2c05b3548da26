//! Running a loaded script suite in any role: the run token, the variables
//! every script sees, instantiating all scripts before anything is sent, and
//! the parallel run of the server role's scripts.

use crate::net::Net;
use crate::roles::runner::{self, Target};
use crate::script::steps::Instantiated;
use crate::script::{Script, ScriptError};
use crate::strict;
use crate::verdict::{Outcome, Verdict};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A run is given up as `target unreachable` when, after this many scripts (or all of them,
/// if fewer) or [`UNREACHABLE_AFTER`], not one datagram came from the target's address and
/// not one script passed.
pub const UNREACHABLE_SCRIPTS: usize = 8;
pub const UNREACHABLE_AFTER: Duration = Duration::from_secs(10);

/// Why a run stopped before its end.
#[derive(Debug, Clone, PartialEq)]
pub struct Unreachable {
    pub scripts: usize,
    pub after: Duration,
}

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "target unreachable: not one datagram from it in {} script(s), {:.1}s; the run was stopped",
            self.scripts,
            self.after.as_secs_f64()
        )
    }
}

/// A short token unique to this run, so names never collide with a
/// previous run's records still held by the target.
pub fn run_token() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mixed = (nanos as u64) ^ ((std::process::id() as u64) << 20);
    base36(mixed % (36 * 36 * 36), 3)
}

fn base36(mut v: u64, width: usize) -> String {
    const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut out = vec![b'0'; width];
    for slot in out.iter_mut().rev() {
        *slot = DIGITS[(v % 36) as usize];
        v /= 36;
    }
    String::from_utf8(out).unwrap_or_default()
}

/// Variables every script sees.
pub fn variables(
    token: &str,
    index: usize,
    count: usize,
    target: &Target,
    clients: &[Ipv4Addr],
) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    // 3 characters for the run, 2 for the script: 5 of a name's 15 bytes; 3 for the script
    // in a run of more than 36 * 36 scripts (two scripts must never share a name).
    let width = if count > 36 * 36 { 3 } else { 2 };
    vars.insert(
        "run".into(),
        format!("{token}{}", base36(index as u64, width)),
    );
    vars.insert("target_ip".into(), target.addr.ip().to_string());
    vars.insert("target_name".into(), target.name.clone());
    for (i, c) in clients.iter().enumerate() {
        vars.insert(format!("client{}", i + 1), c.to_string());
    }
    for (i, p) in target.partners.iter().flat_map(|p| &p.addrs).enumerate() {
        vars.insert(format!("partner{}", i + 1), p.to_string());
    }
    vars
}

/// Instantiates every script; all errors at once, before anything is sent.
pub fn instantiate_all(
    scripts: &[Script],
    token: &str,
    target: &Target,
    clients: &[Ipv4Addr],
) -> Result<Vec<Instantiated>, Vec<ScriptError>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (i, s) in scripts.iter().enumerate() {
        match s.instantiate(&variables(token, i, scripts.len(), target, clients)) {
            Ok(inst) => out.push(inst),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Prints every script error and that nothing was sent; returns the exit status (2).
pub fn script_errors(errors: &[ScriptError]) -> i32 {
    for e in errors {
        eprintln!("error: {e}");
    }
    eprintln!("{} script error(s); nothing was sent", errors.len());
    2
}

/// Runs the scripts with `jobs` worker threads, each script's exchange held against the
/// strict layout check as well (a script that passes with a broken packet becomes a
/// `violation`); `on_done` sees each outcome
/// as it completes (for progress output). Results come back in script order. A target from
/// which nothing at all arrives stops the run early ([`Unreachable`]).
pub fn run(
    net: &Net,
    target: &Target,
    scripts: &[Script],
    ready: &[Instantiated],
    jobs: usize,
    on_done: &(dyn Fn(&Outcome, usize, usize) + Sync),
) -> Result<Vec<Outcome>, Unreachable> {
    let finished = AtomicUsize::new(0);
    let passed = AtomicBool::new(false);
    let unreachable: Mutex<Option<Unreachable>> = Mutex::new(None);
    let run_start = Instant::now();
    let results: Mutex<Vec<Option<Outcome>>> = Mutex::new(vec![None; scripts.len()]);
    // Scripts tagged `disruptive` can take a faulty target down (the Samba AD DC stops
    // answering after a release without its record): they run last, one at a time, so
    // that what they break cannot fail the scripts around them.
    let (ordinary, disruptive): (Vec<usize>, Vec<usize>) =
        (0..scripts.len()).partition(|&i| !scripts[i].is_disruptive());
    for (phase, jobs) in [(ordinary, jobs), (disruptive, 1)] {
        let next = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..jobs.clamp(1, 64) {
                scope.spawn(|| loop {
                    if unreachable
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .is_some()
                    {
                        break;
                    }
                    let Some(&i) = phase.get(next.fetch_add(1, Ordering::Relaxed)) else {
                        break;
                    };
                    let (Some(script), Some(inst)) = (scripts.get(i), ready.get(i)) else {
                        break;
                    };
                    let start = Instant::now();
                    let (verdict, sent) = runner::run_traced(net, target, inst);
                    let duration = start.elapsed();
                    // The target's answers come from its address and port; its requests
                    // (challenges) from its address. Anything else from its address (junk from
                    // another port) is no part of the exchange.
                    let received: Vec<_> = net
                        .received_since(start)
                        .into_iter()
                        .filter(|i| {
                            i.from == target.addr
                                || i.from.ip() != target.addr.ip()
                                || i.bytes.get(2).is_some_and(|f| f & 0x80 == 0)
                        })
                        .collect();
                    let violations = strict::traffic::check(target.addr, &sent, &received);
                    let verdict = match (verdict, violations.first()) {
                        (Verdict::Pass, Some(v)) => Verdict::Violation(v.clone()),
                        (verdict, _) => verdict,
                    };
                    let outcome = Outcome {
                        name: script.name.clone(),
                        title: script.title.clone(),
                        verdict,
                        duration,
                        known: None,
                        violations,
                    };
                    if outcome.verdict == Verdict::Pass {
                        passed.store(true, Ordering::Relaxed);
                    }
                    let done = finished.fetch_add(1, Ordering::Relaxed) + 1;
                    {
                        let mut stop = unreachable.lock().unwrap_or_else(|p| p.into_inner());
                        if stop.is_some() {
                            break; // the run was given up while this script ran
                        }
                        let after = run_start.elapsed();
                        if !passed.load(Ordering::Relaxed)
                            && !net.heard_from(target.addr.ip())
                            && (done >= UNREACHABLE_SCRIPTS.min(scripts.len())
                                || after >= UNREACHABLE_AFTER)
                        {
                            *stop = Some(Unreachable {
                                scripts: done,
                                after,
                            });
                            net.abort();
                        }
                    }
                    on_done(&outcome, done, scripts.len());
                    results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(outcome);
                });
            }
        });
    }
    if let Some(u) = unreachable.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(u);
    }
    Ok(results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .flatten()
        .collect())
}
