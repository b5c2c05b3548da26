//! Loading a script library, running it against a target with several
//! jobs, and judging the outcomes against a target's known deviations.

use crate::net::Net;
use crate::runner::{self, Target, Verdict};
use crate::script::Script;
use crate::steps::{Instantiated, ScriptError};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The script file extension.
pub const EXTENSION: &str = "nbt";

/// The scripts of `paths` (the `library` directory when none are given)
/// whose names contain `filter`; `None` once script errors, or an empty
/// selection, have been reported on standard error.
pub fn load_selected(
    paths: &[PathBuf],
    library: &str,
    filter: Option<&str>,
) -> Option<Vec<Script>> {
    let paths = if paths.is_empty() {
        vec![PathBuf::from(library)]
    } else {
        paths.to_vec()
    };
    match load(&paths, filter) {
        Ok(scripts) if scripts.is_empty() => {
            let looked: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
            eprintln!("error: no scripts match (looked in {})", looked.join(", "));
            None
        }
        Ok(scripts) => Some(scripts),
        Err(errors) => {
            for e in errors {
                eprintln!("error: {e}");
            }
            None
        }
    }
}

/// Finds the scripts under each path (a file or a directory, recursively),
/// sorted by name. A script's name is its path below the directory given,
/// without the extension: `registration/new-unique`.
pub fn load(paths: &[PathBuf], filter: Option<&str>) -> Result<Vec<Script>, Vec<ScriptError>> {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        if path.is_dir() {
            collect(path, path, &mut files, &mut errors);
        } else if path.is_file() {
            let name = path
                .file_stem()
                .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
            files.push((name, path.clone()));
        } else {
            errors.push(io_error(path, "no such file or directory"));
        }
    }
    files.sort();
    files.dedup();
    let mut scripts = Vec::new();
    for (name, path) in files {
        if filter.is_some_and(|f| !name.contains(f)) {
            continue;
        }
        match Script::load(&path, name) {
            Ok(s) => scripts.push(s),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(scripts)
    } else {
        Err(errors)
    }
}

fn io_error(path: &Path, message: &str) -> ScriptError {
    ScriptError {
        file: path.to_path_buf(),
        line: 0,
        column: 0,
        message: message.to_string(),
    }
}

fn collect(
    root: &Path,
    dir: &Path,
    out: &mut Vec<(String, PathBuf)>,
    errors: &mut Vec<ScriptError>,
) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            errors.push(io_error(dir, &format!("cannot read directory: {e}")));
            return;
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(root, &path, out, errors);
        } else if path.extension().is_some_and(|e| e == EXTENSION) {
            let rel = path.strip_prefix(root).unwrap_or(&path).with_extension("");
            let name = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            out.push((name, path));
        }
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
    target: &Target,
    clients: &[Ipv4Addr],
) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    // 3 characters for the run, 2 for the script: 5 of a name's 15 bytes.
    vars.insert("run".into(), format!("{token}{}", base36(index as u64, 2)));
    vars.insert("target_ip".into(), target.addr.ip().to_string());
    vars.insert("target_name".into(), target.name.clone());
    for (i, c) in clients.iter().enumerate() {
        vars.insert(format!("client{}", i + 1), c.to_string());
    }
    vars
}

/// One script's result.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub name: String,
    pub title: String,
    pub verdict: Verdict,
    pub duration: Duration,
    /// Set when the target's expectations file lists this script.
    pub known: Option<Judged>,
}

/// How a listed deviation was judged.
#[derive(Debug, Clone, PartialEq)]
pub enum Judged {
    /// Fails as the list says: not counted as a failure.
    AsListed { reason: String },
    /// Listed, but now passes: the list must be updated (counts as a failure).
    NowPasses,
    /// Listed, but fails differently than recorded (counts as a failure).
    Changed { observed: String },
}

impl Outcome {
    /// Whether this outcome makes the run fail.
    pub fn counts_as_failure(&self) -> bool {
        match (&self.verdict, &self.known) {
            (_, Some(Judged::AsListed { .. })) => false,
            (_, Some(_)) => true,
            (Verdict::Fail(_) | Verdict::Error(_), None) => true,
            _ => false,
        }
    }
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
        match s.instantiate(&variables(token, i, target, clients)) {
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

/// Runs the scripts with `jobs` worker threads; `on_done` sees each outcome
/// as it completes (for progress output). Results come back in script order.
pub fn run(
    net: &Net,
    target: &Target,
    scripts: &[Script],
    ready: &[Instantiated],
    jobs: usize,
    on_done: &(dyn Fn(&Outcome, usize, usize) + Sync),
) -> Vec<Outcome> {
    let next = AtomicUsize::new(0);
    let finished = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Outcome>>> = Mutex::new(vec![None; scripts.len()]);
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, 64) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let (Some(script), Some(inst)) = (scripts.get(i), ready.get(i)) else {
                    break;
                };
                let start = Instant::now();
                let verdict = runner::run(net, target, inst);
                let outcome = Outcome {
                    name: script.name.clone(),
                    title: script.title.clone(),
                    verdict,
                    duration: start.elapsed(),
                    known: None,
                };
                let done = finished.fetch_add(1, Ordering::Relaxed) + 1;
                on_done(&outcome, done, scripts.len());
                results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(outcome);
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .flatten()
        .collect()
}
