//! The server role: loads scripts, picks the target (the embedded
//! reference target unless `--target` names one), runs, reports.

use crate::net::Net;
use crate::roles::options::{RunArgs, DEFAULT_CLIENTS};
use crate::roles::partners::{Partners, DEFAULT_PARTNERS};
use crate::roles::runner::Target;
use crate::roles::suite;
use crate::script::library;
use crate::verdict::expectations::Expectations;
use crate::verdict::report;
use indicatif::{ProgressBar, ProgressStyle};
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
    // The embedded reference target, unless the user named one.
    let mut embedded = None;
    let net;
    let target = match &opts.target {
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
            Target {
                addr,
                name: opts.target_name.clone().unwrap_or_default(),
                partners: Some(Arc::new(Partners::new(partners.clone(), wrepl))),
            }
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
            let server = match nbns_reference::embedded::EmbeddedServer::start_replicating(
                port, &partners,
            ) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("error: cannot start the embedded reference target: {e}");
                    return 2;
                }
            };
            let partners = server
                .wrepl_addr()
                .map(|w| Arc::new(Partners::new(partners.clone(), w)));
            let t = Target {
                addr: server.addr(),
                name: server.name().to_string(),
                partners,
            };
            embedded = Some(server);
            t
        }
    };
    let label = if embedded.is_some() {
        format!("reference target (embedded, {})", target.addr)
    } else {
        format!("target {}", target.addr)
    };

    let token = suite::run_token();
    let ready = match suite::instantiate_all(&scripts, &token, &target, &clients) {
        Ok(r) => r,
        Err(errors) => {
            for e in &errors {
                eprintln!("error: {e}");
            }
            eprintln!("{} script error(s); nothing was sent", errors.len());
            return 2;
        }
    };
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
    let outcomes = suite::run(
        &net,
        &target,
        &scripts,
        &ready,
        jobs,
        &|o, _done, _total| {
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
        },
    );
    progress.finish_and_clear();
    drop(embedded);
    let mut outcomes = match outcomes {
        Ok(o) => o,
        Err(unreachable) => {
            eprintln!("error: {unreachable} ({label} sent nothing to {} at all: is it running, is the address and port right, does a firewall drop the packets?)", clients
                .iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(","));
            return 2;
        }
    };

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
