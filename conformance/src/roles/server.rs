//! The server role: loads scripts, picks the target (the embedded
//! reference target unless `--target` names one), runs, reports.

use crate::net::Net;
use crate::roles::options::{RunArgs, DEFAULT_CLIENTS};
use crate::roles::partners::{Partners, DEFAULT_PARTNERS};
use crate::roles::runner::Target;
use crate::roles::suite;
use crate::script::format::TargetSettings;
use crate::script::library;
use crate::script::Script;
use crate::verdict::expectations::Expectations;
use crate::verdict::report;
use crate::verdict::Outcome;
use indicatif::{ProgressBar, ProgressStyle};
use nbns_model::server::ServerConfig;
use nbns_model::Bug;
use nbns_reference::embedded::EmbeddedServer;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::Instant;

/// The script library shipped with the crate.
pub const LIBRARY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts");

/// Parses `IP` or `IP:PORT` (port 137 when absent).
pub fn parse_target(s: &str) -> Result<SocketAddr, String> {
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Ok(sa);
    }
    s.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, nbns_wire::nbns::PORT))
        .map_err(|_| format!("`{s}` is not IP or IP:PORT"))
}

/// Binds the client sockets on one port for all addresses: `port`, or the
/// NBNS port when possible, or else a free high port.
fn bind_clients(clients: &[Ipv4Addr], port: Option<u16>) -> Result<Net, String> {
    crate::net::bind_common_port(port, Some(nbns_wire::nbns::PORT), |p| Net::bind(clients, p))
}

/// Runs the command; returns the exit status (0 ok, 1 failures, 2 usage or script errors).
pub fn run(opts: &RunArgs) -> i32 {
    let Some(scripts) = library::load_selected(&opts.paths, LIBRARY, opts.filter.as_deref()) else {
        return 2;
    };
    let expectations = match Expectations::load_opt(opts.expect.as_deref()) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let clients = if opts.clients.is_empty() {
        DEFAULT_CLIENTS.to_vec()
    } else {
        opts.clients.clone()
    };

    // The runner's replication partners (`replica` steps push records from them).
    let partners = if opts.partners.is_empty() {
        DEFAULT_PARTNERS.to_vec()
    } else {
        opts.partners.clone()
    };
    // The embedded reference target, unless the user named one: one server per set of
    // target settings the scripts assume (`settings` lines), each running its scripts.
    let mut groups: BTreeMap<TargetSettings, Vec<usize>> = BTreeMap::new();
    for (i, s) in scripts.iter().enumerate() {
        let settings = if opts.target.is_some() {
            TargetSettings::default()
        } else {
            s.settings
        };
        groups.entry(settings).or_default().push(i);
    }
    if opts.target.is_some() && !opts.kb_bugs.is_empty() {
        eprintln!("error: --kb-bug switches a bug on in the embedded reference target; it does not go with --target");
        return 2;
    }
    let mut embedded = Vec::new();
    let net;
    let mut targets = Vec::new();
    match &opts.target {
        Some(t) => {
            let addr = match parse_target(t) {
                Ok(a) => a,
                Err(e) => {
                    eprintln!("error: --target {e}");
                    return 2;
                }
            };
            net = match bind_clients(
                &clients,
                Some(opts.client_port.unwrap_or(nbns_wire::nbns::PORT)),
            ) {
                Ok(n) => n,
                Err(e) => {
                    eprintln!("error: {e}\n(the target sends challenge queries to port 137 of the client addresses: run as root, or pass --client-port for a target that uses another port)");
                    return 2;
                }
            };
            let wrepl = match addr.ip() {
                IpAddr::V4(ip) => SocketAddrV4::new(ip, nbns_wire::wrepl::PORT),
                IpAddr::V6(_) => {
                    eprintln!("error: --target must be IPv4");
                    return 2;
                }
            };
            targets.push(Target {
                addr,
                name: opts.target_name.clone().unwrap_or_default(),
                partners: Some(Arc::new(Partners::new(partners.clone(), wrepl))),
            });
        }
        None => {
            net = match bind_clients(&clients, opts.client_port) {
                Ok(n) => n,
                Err(e) => {
                    eprintln!("error: {e}");
                    return 2;
                }
            };
            let port = net.local_addr(0).map(|a| a.port()).unwrap_or(0);
            for settings in groups.keys() {
                let mut packet = nbns_reference::embedded::test_config(port);
                apply_settings(settings, &opts.kb_bugs, &mut packet.server);
                let server = match EmbeddedServer::start_replicating(packet, &partners) {
                    Ok(s) => s,
                    Err(e) => {
                        eprintln!("error: cannot start the embedded reference target: {e}");
                        return 2;
                    }
                };
                let partners = server
                    .wrepl_addr()
                    .map(|w| Arc::new(Partners::new(partners.clone(), w)));
                targets.push(Target {
                    addr: server.addr(),
                    name: server.name().to_string(),
                    partners,
                });
                embedded.push(server);
            }
        }
    }
    let label = if embedded.is_empty() {
        format!("target {}", targets[0].addr)
    } else {
        let mut l = format!("reference target (embedded, {}", targets[0].addr);
        if targets.len() > 1 {
            let _ = write!(l, ", and {} more for scripts' settings", targets.len() - 1);
        }
        for bug in &opts.kb_bugs {
            let _ = write!(l, ", KB {bug}'s bug switched on");
        }
        l.push(')');
        l
    };

    let token = suite::run_token();
    let mut ready = Vec::new();
    let mut errors = Vec::new();
    for (group, target) in groups.values().zip(&targets) {
        let members: Vec<Script> = group.iter().map(|&i| scripts[i].clone()).collect();
        match suite::instantiate_all(&members, &token, target, &clients) {
            Ok(r) => ready.push((members, r)),
            Err(e) => errors.extend(e),
        }
    }
    if !errors.is_empty() {
        return suite::script_errors(&errors);
    }
    let jobs = if opts.jobs == 0 { 8 } else { opts.jobs };
    eprintln!(
        "running {} scripts against {label} from {} with {jobs} jobs (run {token})",
        scripts.len(),
        clients
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(",")
    );
    let quiet = opts.quiet;
    // Steps see only the packets of their own script, from the time it runs: strays
    // (junk, late answers, other scripts' traffic) are dropped, not kept for later steps.
    net.drop_unclaimed();
    let start = Instant::now();
    // A progress counter on a terminal; indicatif draws nothing when standard
    // error is not one (CI), where the lines a script are all there is.
    let progress = ProgressBar::new(scripts.len() as u64);
    progress.set_style(
        ProgressStyle::with_template("[{pos}/{len}] {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let on_done = |o: &Outcome, _done: usize, _total: usize| {
        let mut o = o.clone();
        if let Some(e) = &expectations {
            e.judge_one(&mut o);
        }
        if !quiet || o.counts_as_failure() || o.known.is_some() {
            progress.suspend(|| {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{}", report::line(&o));
                let _ = out.flush();
            });
        }
        progress.inc(1);
    };
    // The groups one after the other (each against its own target), the outcomes in the
    // scripts' order.
    let mut by_index: Vec<Option<Outcome>> = vec![None; scripts.len()];
    for ((group, (members, ready)), target) in groups.values().zip(&ready).zip(&targets) {
        match suite::run(&net, target, members, ready, jobs, &on_done) {
            Ok(outcomes) => {
                for (&i, o) in group.iter().zip(outcomes) {
                    by_index[i] = Some(o);
                }
            }
            Err(unreachable) => {
                progress.finish_and_clear();
                eprintln!("error: {unreachable} ({label} sent nothing to {} at all: is it running, is the address and port right, does a firewall drop the packets?)", clients
                    .iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join(","));
                return 2;
            }
        }
    }
    progress.finish_and_clear();
    drop(embedded);
    let mut outcomes: Vec<Outcome> = by_index.into_iter().flatten().collect();

    report::finish(
        report::Finish {
            label: &label,
            expectations: expectations.as_ref(),
            junit: opts.junit.as_deref(),
            json: opts.json.as_deref(),
            complete: opts.filter.is_none() && opts.paths.is_empty(),
            start,
        },
        &mut outcomes,
    )
}

/// The embedded target's settings for scripts that assume `settings`, with `bugs` on.
fn apply_settings(settings: &TargetSettings, bugs: &[Bug], server: &mut ServerConfig) {
    if settings.migrate_off {
        server.migrate_on = false;
    }
    server.bugs = bugs.iter().copied().collect();
}
