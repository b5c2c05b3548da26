//! `nbns-conform`: the command-line front end. Each subcommand lives in its
//! own module of the library (`nbns_conformance::commands`); this file only
//! parses arguments and dispatches.

use clap::{Parser, Subcommand};
use nbns_conformance::commands;
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

#[derive(Debug, Subcommand)]
enum Command {
    /// Print every NBNS (UDP 137) and WINS replication (TCP 42) message of
    /// captures or hex dumps, like a dissector.
    #[command(after_help = DECODE_AFTER_HELP)]
    Decode(commands::decode::DecodeArgs),
    /// Run packet scripts against an NBNS/WINS server and judge its answers.
    ///
    /// Without --target, starts the embedded reference target (the model's
    /// WINS server state machine on a loopback socket) and runs the whole
    /// script library against it; with --role replication, the embedded
    /// target runs with replication on at 127.0.0.2 (ports 137 and 42: root).
    #[command(after_help = RUN_AFTER_HELP)]
    Run(nbns_conformance::roles::options::RunArgs),
    /// Run the reference WINS server: the model's state machine on UDP (NBNS) and TCP (WINS
    /// replication), with a durable database.
    #[command(after_help = SERVE_AFTER_HELP)]
    Serve(commands::serve::ServeArgs),
    /// List every rule of the rules file with what checks it: the scripts naming it on a
    /// `refs` line, the strict layout check, the replication role.
    #[command(after_help = COVERAGE_AFTER_HELP)]
    Coverage(commands::coverage::CoverageArgs),
    /// Run the same scripts against two targets and print every answer field in which
    /// they disagree, whatever the scripts expect.
    #[command(after_help = DIFF_AFTER_HELP)]
    Diff(commands::diff::DiffArgs),
    /// Replay captures of a WINS server's traffic through the model's server and flag
    /// every answer the model would not give (passive conformance).
    #[command(after_help = VALIDATE_AFTER_HELP)]
    Validate(commands::validate::ValidateArgs),
    /// Explore the model's WINS server from an empty database and write one script per
    /// distinct path (the model's answers as `expect` lines).
    Generate(commands::generate::GenerateArgs),
}

const DIFF_AFTER_HELP: &str = "\
Targets: `reference` starts an embedded reference server for that side (two
`reference` sides are two servers); otherwise IP[:PORT]. --name-a/--name-b
give a real target's own NetBIOS name. Each script runs against A, then
against B, with its matchers taken out: every reply is awaited but not
judged, a WACK is not required, `expect-none` only waits, challenges are
optional.

Compared: every datagram a target sent to the client sockets for a script,
paired by place: the n-th WACK and the n-th other reply to the request of
each `send` line (`L7 reply 1`), the n-th request the target sent for one of
the script's names (`request 1`: challenge queries), and for scripts with
hand-made packets (run one at a time) the n-th datagram answering nothing
else (`other 1`). Fields: opcode, rcode, flags (response AA TC RD RA B,
reserved bits), section counts, question and record name, type, class and
TTL, NB entries (flags and address, as a set), WACK RDATA, node status names
(the statistics by length); a datagram on one side only is field `packet`,
a script that stopped early (a request left unanswered) field `run`.
Normalised: each target's own address is {target_ip} and its own name
{target_name}; transaction ids are not compared; TTLs equal within
--ttl-tolerance seconds (default 2).

Output: the table `script | step | field | A | B`, then
`diff: S scripts, D with differences, F fields differ`.

Example (as root, targets send challenges to UDP 137 of the clients):
  nbns-conform diff reference 192.0.2.10 --name-b WINS1 --json diff.json
  scripts/diff-samba.sh nmbd     # reference vs nmbd in a network namespace

Exit status: 0 the targets agree; 1 they differ; 2 usage error, script error,
or an unusable target (one that sent nothing at all).";

const VALIDATE_AFTER_HELP: &str = "\
Every request to the server goes to the model in capture order and at
capture time, with the holders' answers to challenges; each answer of the
server is compared with the model's (opcode, rcode, group flag, addresses)
and held against the RFC 1002 layouts. One line a divergence: the frame,
the request's frame, the name, the rule, expected and observed. A name
whose record the capture has not shown yet is undetermined: its answers
are counted, not judged (use --from-start for a capture of a fresh server);
after a divergence about its record, a name is undetermined again until an
answer reveals the record (one difference, one report).
Summary: `validated N exchanges, D divergences, U undetermined`.

A capture that ends inside a packet record (its writer was stopped) is
replayed up to there, with a warning.

Exit status: 0 no divergence (beyond those --expect lists); 1 some; 2 usage
error or unreadable capture.";

const COVERAGE_AFTER_HELP: &str = "\
Rules file: one rule a line, `ID  paraphrase`; `#` comments. A rule whose text
holds `[not testable: REASON]` is counted as not testable unless something
covers it. Output: one line a rule (what covers it, `not testable: REASON` or
`UNCOVERED`), then `coverage: R rules, C covered, U uncovered, X not testable`.

Exit status: 0 no rule uncovered; 1 some rule uncovered; 2 a bad rules file,
a script error, or a rule ID that a script (or the strict check, or the
replication table) names but the rules file does not.";

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
        Command::Decode(args) => commands::decode::main(&args),
        Command::Run(args) => commands::run::dispatch(&args),
        Command::Serve(args) => commands::serve::main(&args),
        Command::Coverage(args) => commands::coverage::main(&args),
        Command::Diff(args) => commands::diff::main(&args),
        Command::Validate(args) => commands::validate::main(&args),
        Command::Generate(args) => commands::generate::main(&args),
    };
    ExitCode::from(code as u8)
}
