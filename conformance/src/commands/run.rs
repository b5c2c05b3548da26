//! `nbns-conform run`: loads scripts, picks the target (the embedded
//! reference target unless `--target` names one), runs, reports.

use crate::expectations::Expectations;
use crate::net::Net;
use crate::report;
use crate::runner::Target;
use crate::suite;
use std::io::{IsTerminal, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Instant;

/// The script library shipped with the crate.
pub const LIBRARY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts");

/// Client addresses used when none are given: loopback addresses other
/// than the server's, so challenges reach the runner and not the target.
pub const DEFAULT_CLIENTS: [Ipv4Addr; 4] = [
    Ipv4Addr::new(127, 0, 0, 3),
    Ipv4Addr::new(127, 0, 0, 4),
    Ipv4Addr::new(127, 0, 0, 5),
    Ipv4Addr::new(127, 0, 0, 6),
];

/// The runner's role (`run --role`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Role {
    /// The runner is NBNS clients; the target is a server.
    #[default]
    Server,
    /// The runner is WINS replication partners of the target.
    Replication,
    /// The runner is the WINS servers; the target is a client (nmbd, or the
    /// embedded reference client).
    Client,
}

/// `nbns-conform run`'s options, for every role (each reads what it uses).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RunArgs {
    /// What the runner plays: `server` judges an NBNS/WINS server with the
    /// script library; `replication` is WINS replication partners of the
    /// target (TCP 42: conflict matrix, version ids, hostile frames).
    #[arg(long, value_enum, default_value_t = Role::Server)]
    pub role: Role,
    /// --role replication: a partner address the runner connects from and
    /// listens on (TCP 42; repeatable; default 127.0.0.3 and 127.0.0.4, the
    /// first is replica owner A, the second owner B).
    #[arg(long = "partner-addr", value_name = "IP")]
    pub partners: Vec<Ipv4Addr>,
    /// --role replication: a shell command that restarts the target with
    /// its database kept, for the version-id check across a restart (the
    /// embedded target restarts in-process).
    #[arg(long, value_name = "CMD")]
    pub restart_cmd: Option<String>,
    /// --role client: a WINS server address the runner plays (repeatable;
    /// server1, server2, ...; default 127.0.1.4 and 127.0.1.5).
    #[arg(long = "server-addr", value_name = "IP")]
    pub servers: Vec<Ipv4Addr>,
    /// --role client: starts and stops the client under test (`CMD start
    /// NAME WORKGROUP NICS WINS`, `CMD stop`, `CMD kill`); default: the
    /// embedded reference client. With it, --client-addr lists the
    /// client's own addresses (client1, client2, ...).
    #[arg(long, value_name = "CMD")]
    pub target_command: Option<String>,
    /// The server to test: IP or IP:PORT (port 137 when absent).
    #[arg(long, value_name = "IP[:PORT]")]
    pub target: Option<String>,
    /// The target's own NetBIOS name, for scripts that use {target_name}.
    #[arg(long, value_name = "NAME")]
    pub target_name: Option<String>,
    /// A client address the runner sends from and listens on (repeatable;
    /// default 127.0.0.3 to 127.0.0.6). Scripts call them client1, client2, ...
    #[arg(long = "client-addr", value_name = "IP")]
    pub clients: Vec<Ipv4Addr>,
    /// UDP port of the client sockets. Targets send challenge queries to
    /// port 137 of a client address, so 137 is the default with --target.
    #[arg(long, value_name = "PORT")]
    pub client_port: Option<u16>,
    /// Scripts or directories of scripts (*.nbt); default: the shipped library.
    #[arg(value_name = "SCRIPT_OR_DIR")]
    pub paths: Vec<PathBuf>,
    /// Run only scripts whose name contains PATTERN.
    #[arg(long, value_name = "PATTERN")]
    pub filter: Option<String>,
    /// The target's known deviations (see --help for the format).
    #[arg(long, value_name = "FILE")]
    pub expect: Option<PathBuf>,
    /// Write a JUnit XML report.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write a JSON report.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Scripts run at the same time.
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub jobs: usize,
    /// Print only failures and the summary.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Runs the role `args` asks for; returns the exit status.
pub fn dispatch(args: &RunArgs) -> i32 {
    match args.role {
        Role::Server => run(args),
        Role::Client => crate::client_role::run(args),
        Role::Replication => crate::wrepl_run::run(args),
    }
}

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
    let Some(scripts) = suite::load_selected(&opts.paths, LIBRARY, opts.filter.as_deref()) else {
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
            Target {
                addr,
                name: opts.target_name.clone().unwrap_or_default(),
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
            let server = match crate::serve::Embedded::start(port) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("error: cannot start the embedded reference target: {e}");
                    return 2;
                }
            };
            let t = Target {
                addr: server.addr(),
                name: server.name().to_string(),
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
    let tty = std::io::stderr().is_terminal();
    let quiet = opts.quiet;
    let start = Instant::now();
    let mut outcomes = suite::run(&net, &target, &scripts, &ready, jobs, &|o, done, total| {
        let mut err = std::io::stderr().lock();
        if tty {
            let _ = write!(err, "\r\x1b[K");
        }
        let mut o = o.clone();
        if let Some(e) = &expectations {
            e.judge_one(&mut o);
        }
        let mut out = std::io::stdout().lock();
        if !quiet || o.counts_as_failure() || o.known.is_some() {
            let _ = writeln!(out, "{}", report::line(&o));
        }
        let _ = out.flush();
        if tty {
            let _ = write!(
                err,
                "[{done}/{total}] {:.1}s",
                start.elapsed().as_secs_f64()
            );
            let _ = err.flush();
        }
    });
    if tty {
        eprint!("\r\x1b[K");
    }
    drop(embedded);

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
