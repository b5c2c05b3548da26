//! `nbns-conform diff`: the same scripts against two targets, and a table of every answer
//! field in which they disagree (see [`crate::roles::diff`]).

use crate::net::Net;
use crate::roles::diff::{self, Difference, Exchange, Normalise, Side};
use crate::roles::options::DEFAULT_CLIENTS;
use crate::roles::runner::Target;
use crate::roles::server::{parse_target, LIBRARY};
use crate::roles::suite;
use crate::script::library;
use nbns_reference::embedded::EmbeddedServer;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Instant;

/// `nbns-conform diff`'s options.
#[derive(Debug, Clone, clap::Args)]
pub struct DiffArgs {
    /// Target A: `reference` (an embedded reference server of its own) or IP[:PORT] (port
    /// 137 when absent).
    #[arg(value_name = "TARGET_A")]
    pub a: String,
    /// Target B: `reference` or IP[:PORT].
    #[arg(value_name = "TARGET_B")]
    pub b: String,
    /// Scripts or directories of scripts (*.nbt); default: the shipped library.
    #[arg(value_name = "SCRIPT_OR_DIR")]
    pub paths: Vec<PathBuf>,
    /// Target A's own NetBIOS name, for scripts that use {target_name} (the embedded
    /// reference server's is known).
    #[arg(long, value_name = "NAME")]
    pub name_a: Option<String>,
    /// Target B's own NetBIOS name.
    #[arg(long, value_name = "NAME")]
    pub name_b: Option<String>,
    /// A client address the runner sends from and listens on (repeatable; default
    /// 127.0.0.3 to 127.0.0.6); the same for both targets.
    #[arg(long = "client-addr", value_name = "IP")]
    pub clients: Vec<Ipv4Addr>,
    /// UDP port of the client sockets (default 137, where targets send challenges).
    #[arg(long, value_name = "PORT")]
    pub client_port: Option<u16>,
    /// Run only scripts whose name contains PATTERN.
    #[arg(long, value_name = "PATTERN")]
    pub filter: Option<String>,
    /// Two TTLs within this many seconds are equal (remaining times differ between runs).
    #[arg(long, value_name = "SECONDS", default_value_t = diff::DEFAULT_TTL_TOLERANCE)]
    pub ttl_tolerance: u32,
    /// Scripts run at the same time (scripts with hand-made packets run one at a time).
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub jobs: usize,
    /// Write the differences as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

/// What a side names.
enum Spec {
    Reference,
    Addr(SocketAddr),
}

fn parse_spec(s: &str) -> Result<Spec, String> {
    if s == "reference" {
        Ok(Spec::Reference)
    } else {
        parse_target(s).map(Spec::Addr)
    }
}

/// Runs the command; returns the exit status (0 agree, 1 differ, 2 usage errors or an
/// unusable target).
pub fn main(args: &DiffArgs) -> i32 {
    let specs = match (parse_spec(&args.a), parse_spec(&args.b)) {
        (Ok(a), Ok(b)) => [a, b],
        (Err(e), _) => {
            eprintln!("error: TARGET_A: {e} (or `reference`)");
            return 2;
        }
        (_, Err(e)) => {
            eprintln!("error: TARGET_B: {e} (or `reference`)");
            return 2;
        }
    };
    let Some(scripts) = library::load_selected(&args.paths, LIBRARY, args.filter.as_deref()) else {
        return 2;
    };
    let clients = if args.clients.is_empty() {
        DEFAULT_CLIENTS.to_vec()
    } else {
        args.clients.clone()
    };
    // Real targets send their challenges to port 137; two embedded ones to whatever port
    // the client sockets have.
    let both_embedded = specs.iter().all(|s| matches!(s, Spec::Reference));
    let bound = if both_embedded {
        crate::net::bind_common_port(args.client_port, Some(nbns_wire::nbns::PORT), |p| {
            Net::bind(&clients, p)
        })
    } else {
        Net::bind(&clients, args.client_port.unwrap_or(nbns_wire::nbns::PORT))
            .map_err(|e| e.to_string())
    };
    let net = match bound {
        Ok(n) => n,
        Err(e) => {
            eprintln!("error: {e}\n(targets send challenge queries to port 137 of the client addresses: run as root, or pass --client-port)");
            return 2;
        }
    };
    let port = net
        .local_addr(0)
        .map_or(nbns_wire::nbns::PORT, |a| a.port());
    let token = suite::run_token();
    let names = [&args.name_a, &args.name_b];
    let addr_of = |s: &Spec| match s {
        Spec::Addr(a) => Some(*a),
        Spec::Reference => None,
    };
    // Two embedded servers share 127.0.0.2; two real targets on one address would be odd.
    let shared_ip = match (addr_of(&specs[0]), addr_of(&specs[1])) {
        (Some(a), Some(b)) => a.ip() == b.ip(),
        _ => true,
    };
    let mut exchanges: Vec<Vec<Exchange>> = Vec::new();
    let mut labels = Vec::new();
    let start = Instant::now();
    for (i, spec) in specs.iter().enumerate() {
        let side_name = ["A", "B"][i];
        let mut embedded = None;
        let target = match spec {
            Spec::Addr(addr) => Target {
                addr: *addr,
                name: names[i].clone().unwrap_or_default(),
                partners: None,
            },
            Spec::Reference => match EmbeddedServer::start(port) {
                Ok(s) => {
                    let t = Target {
                        addr: s.addr(),
                        name: s.name().to_string(),
                        partners: None,
                    };
                    embedded = Some(s);
                    t
                }
                Err(e) => {
                    eprintln!("error: cannot start the embedded reference target: {e}");
                    return 2;
                }
            },
        };
        let label = match spec {
            Spec::Reference => format!("reference (embedded, {})", target.addr),
            Spec::Addr(a) => format!("{a}"),
        };
        let ready = match suite::instantiate_all(&scripts, &token, &target, &clients) {
            Ok(r) => r,
            Err(errors) => return suite::script_errors(&errors),
        };
        eprintln!(
            "diff: {side_name} = {label}: running {} scripts (run {token})",
            scripts.len()
        );
        let side = Side {
            net: &net,
            norm: Normalise {
                target_ip: target.addr.ip(),
                target_name: target.name.clone(),
            },
            target,
            match_port: shared_ip,
        };
        let side_start = Instant::now();
        let disruptive: Vec<bool> = scripts.iter().map(|s| s.is_disruptive()).collect();
        let ex = diff::run_side(&side, &ready, &disruptive, args.jobs.max(1), &|_| {});
        drop(embedded);
        let ex = match ex {
            Ok(ex) => ex,
            Err(e) => {
                eprintln!("error: target {side_name} ({label}) is unreachable: {e}; is it running, is the address and port right?");
                return 2;
            }
        };
        let answered = ex.iter().filter(|e| !e.packets.is_empty()).count();
        eprintln!(
            "diff: {side_name} done in {:.1} s; answers in {answered} of {} scripts",
            side_start.elapsed().as_secs_f64(),
            scripts.len()
        );
        exchanges.push(ex);
        labels.push(label);
    }

    let mut diffs: Vec<Difference> = Vec::new();
    let mut with = 0;
    for (i, s) in scripts.iter().enumerate() {
        let d = diff::compare(
            &s.name,
            &exchanges[0][i],
            &exchanges[1][i],
            args.ttl_tolerance,
        );
        with += usize::from(!d.is_empty());
        diffs.extend(d);
    }
    if !diffs.is_empty() {
        print!("{}", diff::table(&diffs));
    }
    println!(
        "diff: {} scripts, {with} with differences, {} fields differ (A = {}, B = {}; {:.1} s)",
        scripts.len(),
        diffs.len(),
        labels[0],
        labels[1],
        start.elapsed().as_secs_f64()
    );
    if let Some(path) = &args.json {
        let v = serde_json::json!({
            "a": labels[0],
            "b": labels[1],
            "ttl_tolerance": args.ttl_tolerance,
            "scripts": scripts.len(),
            "with_differences": with,
            "fields_differ": diffs.len(),
            "differences": diffs.iter().map(|d| serde_json::json!({
                "script": d.script, "step": d.step, "field": d.field, "a": d.a, "b": d.b,
            })).collect::<Vec<_>>(),
        });
        let text = serde_json::to_string_pretty(&v).unwrap_or_default();
        if let Err(e) = std::fs::write(path, text + "\n") {
            eprintln!("error: cannot write {}: {e}", path.display());
            return 2;
        }
    }
    i32::from(!diffs.is_empty())
}
