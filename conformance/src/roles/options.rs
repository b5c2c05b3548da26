//! `nbns-conform run`'s options and the defaults every role shares.

use std::net::Ipv4Addr;
use std::path::PathBuf;

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
    /// first is replica owner A, the second owner B). --role server: the
    /// addresses `replica` steps push from (partner1, partner2, ...; default
    /// 127.0.0.7 and 127.0.0.8; the target must accept them as partners).
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
    /// --role server, embedded target only: switch the field bug of this KB article on in the
    /// reference target (Q135277: multihomed replicas of another owner are not replaced;
    /// Q164016: a static mapping wins over a multihomed registration), to see the scripts
    /// catch it: a run that passes has missed the bug. Repeatable.
    #[arg(long = "kb-bug", value_name = "QNNNNNN", value_parser = parse_server_bug)]
    pub kb_bugs: Vec<nbns_model::Bug>,
}

/// A KB bug the WINS server's state machine has a switch for.
pub fn parse_server_bug(s: &str) -> Result<nbns_model::Bug, String> {
    use nbns_model::Bug;
    let server = Bug::SERVER.map(|b| b.to_string()).join(" and ");
    match Bug::parse(s) {
        Some(b) if Bug::SERVER.contains(&b) => Ok(b),
        Some(b) => Err(format!(
            "KB {b} is a client's bug; the server's are {server}"
        )),
        None => Err(format!(
            "`{s}` is not one of the KB bugs ({server} concern the server)"
        )),
    }
}
