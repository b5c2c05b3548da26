//! `nbns-conform`: the command-line front end. Each subcommand lives in its
//! own module of the library; this file only parses arguments and dispatches.

use clap::{Parser, Subcommand, ValueEnum};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "nbns-conform",
    version,
    about = "NBNS / WINS conformance tools",
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The runner's role (`run --role`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Role {
    /// The runner is NBNS clients; the target is a server.
    Server,
    /// The runner is WINS replication partners of the target.
    Replication,
    /// The runner is the WINS servers; the target is a client (nmbd, or the
    /// embedded reference client).
    Client,
}

// Parsed once per process: the size of the `Run` variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Print every NBNS (UDP 137) and WINS replication (TCP 42) message of
    /// captures or hex dumps, like a dissector.
    #[command(after_help = DECODE_AFTER_HELP)]
    Decode {
        /// One JSON object a line instead of text blocks.
        #[arg(long)]
        json: bool,
        /// .pcap or .pcapng files, or hex text files (one packet a line); `-` reads standard input.
        #[arg(value_name = "INPUT", required = true)]
        inputs: Vec<String>,
    },
    /// Run packet scripts against an NBNS/WINS server and judge its answers.
    ///
    /// Without --target, starts the embedded reference target (the model's
    /// WINS server state machine on a loopback socket) and runs the whole
    /// script library against it; with --role replication, the embedded
    /// target runs with replication on at 127.0.0.2 (ports 137 and 42: root).
    #[command(after_help = RUN_AFTER_HELP)]
    Run {
        /// What the runner plays: `server` judges an NBNS/WINS server with the
        /// script library; `replication` is WINS replication partners of the
        /// target (TCP 42: conflict matrix, version ids, hostile frames).
        #[arg(long, value_enum, default_value_t = Role::Server)]
        role: Role,
        /// --role replication: a partner address the runner connects from and
        /// listens on (TCP 42; repeatable; default 127.0.0.3 and 127.0.0.4, the
        /// first is replica owner A, the second owner B).
        #[arg(long = "partner-addr", value_name = "IP")]
        partners: Vec<std::net::Ipv4Addr>,
        /// --role replication: a shell command that restarts the target with
        /// its database kept, for the version-id check across a restart (the
        /// embedded target restarts in-process).
        #[arg(long, value_name = "CMD")]
        restart_cmd: Option<String>,
        /// --role client: a WINS server address the runner plays (repeatable;
        /// server1, server2, ...; default 127.0.1.4 and 127.0.1.5).
        #[arg(long = "server-addr", value_name = "IP")]
        servers: Vec<std::net::Ipv4Addr>,
        /// --role client: starts and stops the client under test (`CMD start
        /// NAME WORKGROUP NICS WINS`, `CMD stop`, `CMD kill`); default: the
        /// embedded reference client. With it, --client-addr lists the
        /// client's own addresses (client1, client2, ...).
        #[arg(long, value_name = "CMD")]
        target_command: Option<String>,
        /// The server to test: IP or IP:PORT (port 137 when absent).
        #[arg(long, value_name = "IP[:PORT]")]
        target: Option<String>,
        /// The target's own NetBIOS name, for scripts that use {target_name}.
        #[arg(long, value_name = "NAME")]
        target_name: Option<String>,
        /// A client address the runner sends from and listens on (repeatable;
        /// default 127.0.0.3 to 127.0.0.6). Scripts call them client1, client2, ...
        #[arg(long = "client-addr", value_name = "IP")]
        clients: Vec<std::net::Ipv4Addr>,
        /// UDP port of the client sockets. Targets send challenge queries to
        /// port 137 of a client address, so 137 is the default with --target.
        #[arg(long, value_name = "PORT")]
        client_port: Option<u16>,
        /// Scripts or directories of scripts (*.nbt); default: the shipped library.
        #[arg(value_name = "SCRIPT_OR_DIR")]
        paths: Vec<std::path::PathBuf>,
        /// Run only scripts whose name contains PATTERN.
        #[arg(long, value_name = "PATTERN")]
        filter: Option<String>,
        /// The target's known deviations (see --help for the format).
        #[arg(long, value_name = "FILE")]
        expect: Option<std::path::PathBuf>,
        /// Write a JUnit XML report.
        #[arg(long, value_name = "FILE")]
        junit: Option<std::path::PathBuf>,
        /// Write a JSON report.
        #[arg(long, value_name = "FILE")]
        json: Option<std::path::PathBuf>,
        /// Scripts run at the same time.
        #[arg(long, default_value_t = 8, value_name = "N")]
        jobs: usize,
        /// Print only failures and the summary.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Run the reference WINS server: the model's state machine on UDP (NBNS) and TCP (WINS
    /// replication), with a durable database.
    #[command(after_help = SERVE_AFTER_HELP)]
    Serve(nbns_conformance::serve::ServeArgs),
}

const SERVE_AFTER_HELP: &str = "\
Durability: requests are handled in batches and the records a batch changed
are committed to the database (fsync) before any reply of the batch is sent;
a server killed at any moment keeps every registration it acknowledged, and
its version ids go on increasing after a restart. A failed database write
stops the server (exit status 3).

Replication (MS-WINSRA): the server answers start/stop association, owner-
version map and send-entries requests from its partners, pulls from them at
start, on their update notifications and every --pull-interval, and sends
them an update notification shortly after its own records change. Replicas
are applied by the model's conflict rules (the code `nbns-model` checks).

Example: two servers replicating with each other (as root, loopback):
  nbns-conform serve --bind 127.0.0.21:137 --db a.redb --partner 127.0.0.22
  nbns-conform serve --bind 127.0.0.22:137 --db b.redb --partner 127.0.0.21";

const RUN_AFTER_HELP: &str = "\
Scripts: one test a file (*.nbt); the format is in README.md, section
`Script format`. Script errors are reported with file, line and column
before anything is sent.

Expectations file: a script name at column 0, then indented lines
`observed: TEXT` (a piece of the failure message) and `reason: TEXT` (who is
right and why; may continue on further indented lines). A listed script that
fails as recorded does not fail the run; one that passes, or fails otherwise,
does, so the list stays true.

Exit status: 0 nothing failed beyond the expectations file; 1 some script
failed; 2 usage error, script error or unusable target.";

const DECODE_AFTER_HELP: &str = "\
Hex input: one message a line as hex digits (spaces, tabs and colons allowed
between bytes); `#` starts a comment, blank lines are skipped. A line is an
NBNS packet, or a whole WINS replication frame (length word included) when it
starts with `wrepl:` (`nbns:` may prefix NBNS lines).

Captures: UDP port 137 on either side is NBNS; TCP port 42 on either side is
WINS replication, reassembled per direction. Other frames are skipped and
counted in the summary line on standard error.

Exit status: 0 every message decoded; 1 some message did not (each failure is
shown with its frame, offset and reason); 2 usage error or unreadable input.";

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Decode { json, inputs } => {
            nbns_conformance::decode::run(&nbns_conformance::decode::Options { json, inputs })
        }
        Command::Run {
            role: Role::Replication,
            target,
            clients,
            partners,
            restart_cmd,
            filter,
            expect,
            junit,
            json,
            jobs,
            quiet,
            ..
        } => nbns_conformance::wrepl_run::run(&nbns_conformance::wrepl_run::ReplOptions {
            target,
            partners,
            holders: clients,
            filter,
            expect,
            junit,
            json,
            jobs,
            quiet,
            restart_cmd,
        }),
        Command::Run {
            role: Role::Client,
            target_command,
            target_name,
            servers,
            clients,
            client_port,
            paths,
            filter,
            expect,
            junit,
            json,
            quiet,
            ..
        } => nbns_conformance::client_role::run(&nbns_conformance::client_role::ClientRunOptions {
            target_command,
            target_name,
            servers,
            clients,
            port: client_port,
            paths,
            filter,
            expect,
            junit,
            json,
            quiet,
        }),
        Command::Run {
            role: _,
            partners: _,
            restart_cmd: _,
            servers: _,
            target_command: _,
            target,
            target_name,
            clients,
            client_port,
            paths,
            filter,
            expect,
            junit,
            json,
            jobs,
            quiet,
        } => nbns_conformance::run_cmd::run(&nbns_conformance::run_cmd::RunOptions {
            target,
            target_name,
            clients,
            client_port,
            paths,
            filter,
            expect,
            junit,
            json,
            jobs,
            quiet,
        }),
        Command::Serve(args) => nbns_conformance::serve::main(&args),
    };
    ExitCode::from(code as u8)
}
