//! `nbns-conform serve`: the reference WINS server of `nbns-reference` in
//! the foreground, configured from the command line.

use nbns_reference::embedded::{serve_foreground, EMBEDDED_NAME};
use nbns_reference::packet_layer::PacketConfig;
use nbns_reference::replication::ReplicationConfig;
use nbns_reference::server::WinsServerConfig;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;
use std::time::Duration;

/// `nbns-conform serve`'s options.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// NBNS address to listen on (UDP). Loopback by default; a WINS server answers anyone who
    /// asks. This IP is also the server's owner id in WINS replication.
    #[arg(long, default_value = "127.0.0.1:1137", value_name = "IP:PORT")]
    pub bind: SocketAddrV4,
    /// The server's NetBIOS name (registered as <00> and <20>).
    #[arg(long, default_value = EMBEDDED_NAME, value_name = "NAME")]
    pub name: String,
    /// UDP port of clients that challenge queries and release demands go to (RFC 1002: 137).
    #[arg(long, default_value_t = 137, value_name = "PORT")]
    pub challenge_port: u16,
    /// Database file (created when missing). Every write the server acknowledged is on disk
    /// before the acknowledgement is sent. Without it the database lives in memory.
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// WINS replication address (TCP). Default: the --bind IP, port 42.
    #[arg(long, value_name = "IP:PORT")]
    pub wrepl_bind: Option<SocketAddrV4>,
    /// Serve NBNS only, no WINS replication.
    #[arg(long, conflicts_with_all = ["wrepl_bind", "partners"])]
    pub no_wrepl: bool,
    /// A replication partner, IP or IP:PORT (port 42 when absent); repeatable. Only partners
    /// may associate; the server pulls from them and pushes update notifications to them.
    #[arg(long = "partner", value_name = "IP[:PORT]", value_parser = parse_partner)]
    pub partners: Vec<SocketAddrV4>,
    /// How often to pull from every partner, the first time at start (pulls also follow
    /// every partner notification); 0: only on notifications. Durations: 90, 90s, 15m, 2h, 6d.
    #[arg(long, default_value = "30m", value_name = "DURATION", value_parser = parse_duration)]
    pub pull_interval: Duration,
    /// Smallest TTL granted (Samba's "min wins ttl": 6 hours). A few seconds lets scripts
    /// wait for a name to run out (the embedded target of `run` grants down to 1 s).
    #[arg(long, default_value = "60", value_name = "DURATION", value_parser = parse_duration)]
    pub min_ttl: Duration,
    /// Renew interval: the largest TTL granted (Samba: 6 days).
    #[arg(long, default_value = "6d", value_name = "DURATION", value_parser = parse_duration)]
    pub renew_interval: Duration,
    /// Extinction interval: a released record becomes a tombstone after this (Samba: 6 days).
    #[arg(long, default_value = "6d", value_name = "DURATION", value_parser = parse_duration)]
    pub extinction_interval: Duration,
    /// Extinction timeout: a tombstone is deleted after this (Samba: 1 day).
    #[arg(long, default_value = "1d", value_name = "DURATION", value_parser = parse_duration)]
    pub extinction_timeout: Duration,
    /// Verify interval: this often, the replicas a partner owns are checked against all of its
    /// records; one it no longer holds becomes a tombstone (Samba: 24 days; 0: never).
    #[arg(long, default_value = "24d", value_name = "DURATION", value_parser = parse_duration)]
    pub verify_interval: Duration,
    /// A replication partner silent this long (before its first message, between two, or in
    /// the middle of one) is dropped.
    #[arg(long, default_value = "30s", value_name = "DURATION", value_parser = parse_duration)]
    pub wrepl_timeout: Duration,
    /// Most replication connections served at once; more are closed at once. Only partners'
    /// connections count: any other address is closed at accept.
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub wrepl_max_connections: usize,
    /// Most replication connections of one partner served at once; more are closed at once.
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub wrepl_max_per_partner: usize,
    /// An inbound replication connection is stopped this long after it was accepted, however
    /// busy (the partner reconnects for its next exchange).
    #[arg(long, default_value = "10m", value_name = "DURATION", value_parser = parse_duration)]
    pub wrepl_max_lifetime: Duration,
    /// Largest send-entries reply sent, in bytes (a range that does not fit is answered with
    /// its lowest versions; the puller asks again for the rest).
    #[arg(long, default_value_t = nbns_reference::replication::service::DEFAULT_MAX_REPLY_BYTES, value_name = "BYTES", value_parser = clap::value_parser!(u32).range(4096..=16 * 1024 * 1024))]
    pub wrepl_max_reply: u32,
    /// MigrateOn (Windows' registry setting of that name): whether a dynamic registration
    /// may challenge and replace a static unique or multihomed record. With `no`, it is
    /// refused and the static mapping stays.
    #[arg(long, value_enum, default_value_t = YesNo::Yes, value_name = "YES|NO")]
    pub migrate_on: YesNo,
    /// Switch on the field bug of this KB article, to test clients and tools against a
    /// server that has it (Q135277: an active multihomed replica of another owner does not
    /// replace the stored one; Q164016: a static mapping wins over a multihomed
    /// registration). Repeatable. Never for a real service.
    #[arg(long = "kb-bug", value_name = "QNNNNNN", value_parser = crate::roles::options::parse_server_bug)]
    pub kb_bugs: Vec<nbns_model::Bug>,
    /// Most records the database holds; when full, a registration of a new name is refused
    /// with SRV_ERR (existing names still refresh and release; replicas are still taken).
    #[arg(long, default_value_t = nbns_reference::packet_layer::DEFAULT_MAX_RECORDS, value_name = "N")]
    pub max_records: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum YesNo {
    Yes,
    No,
}

fn parse_partner(s: &str) -> Result<SocketAddrV4, String> {
    if let Ok(ip) = s.parse::<Ipv4Addr>() {
        return Ok(SocketAddrV4::new(ip, nbns_wire::wrepl::PORT));
    }
    s.parse::<SocketAddrV4>()
        .map_err(|_| format!("`{s}` is not an IPv4 address or IPv4:PORT"))
}

/// `90`, `90s`, `15m`, `2h`, `6d`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let (digits, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{s}` is not a duration (e.g. 90, 90s, 15m, 2h, 6d)"))?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "`{s}` is not a duration: the unit must be s, m, h or d"
            ))
        }
    };
    n.checked_mul(mult)
        .filter(|secs| *secs <= u64::from(u32::MAX))
        .map(Duration::from_secs)
        .ok_or_else(|| format!("`{s}` is too long"))
}

impl ServeArgs {
    /// The server configuration these options describe.
    pub fn config(&self) -> WinsServerConfig {
        let ip = *self.bind.ip();
        let mut packet = PacketConfig::new(&self.name, ip);
        packet.challenge_port = self.challenge_port;
        packet.max_records = self.max_records;
        let secs = |d: Duration| u32::try_from(d.as_secs()).unwrap_or(u32::MAX);
        // The renew interval caps the TTLs granted (a short one, for tests,
        // lowers the smallest TTL with it).
        let renew = secs(self.renew_interval).max(1);
        packet.server.max_ttl = renew;
        packet.server.min_ttl = secs(self.min_ttl).clamp(1, renew);
        packet.server.tombstone_interval = secs(self.extinction_interval);
        packet.server.tombstone_timeout = secs(self.extinction_timeout);
        packet.server.migrate_on = self.migrate_on == YesNo::Yes;
        packet.server.bugs = self.kb_bugs.iter().copied().collect();
        let mut cfg = WinsServerConfig::new(packet);
        cfg.db = self.db.clone();
        if !self.no_wrepl {
            let mut s = ReplicationConfig::new(ip);
            s.bind = self
                .wrepl_bind
                .unwrap_or(SocketAddrV4::new(ip, nbns_wire::wrepl::PORT));
            s.partners = self.partners.clone();
            s.pull_interval = self.pull_interval;
            s.verify_interval = self.verify_interval;
            s.idle_timeout = self.wrepl_timeout;
            s.max_connections = self.wrepl_max_connections.max(1);
            s.max_connections_per_partner = self.wrepl_max_per_partner.max(1);
            s.max_lifetime = self.wrepl_max_lifetime.max(Duration::from_secs(1));
            s.max_reply_bytes = self.wrepl_max_reply;
            cfg.replication = Some(s);
        }
        cfg
    }
}

/// `nbns-conform serve`: runs in the foreground until killed.
pub fn main(args: &ServeArgs) -> i32 {
    for bug in &args.kb_bugs {
        eprintln!(
            "warning: KB {bug}'s bug is switched on: this server misbehaves on purpose ({})",
            bug.title()
        );
    }
    if args.migrate_on == YesNo::No {
        eprintln!("MigrateOn is off: registrations over static records are refused");
    }
    let asked_for_wrepl = args.wrepl_bind.is_some() || !args.partners.is_empty();
    serve_foreground(args.bind, args.config(), !asked_for_wrepl)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    fn config(args: &[&str]) -> nbns_model::server::ServerConfig {
        let cli = Cli::try_parse_from(std::iter::once("serve").chain(args.iter().copied()))
            .unwrap_or_else(|e| panic!("{e}"));
        cli.serve.config().packet.server
    }

    #[test]
    fn settings_reach_the_state_machine() {
        let plain = config(&[]);
        assert!(plain.migrate_on && plain.bugs.is_empty() && plain.unknown_release_ok);
        let set = config(&[
            "--migrate-on",
            "no",
            "--kb-bug",
            "Q164016",
            "--kb-bug",
            "135277",
        ]);
        assert!(!set.migrate_on);
        assert!(set.bugs.has(nbns_model::Bug::Q164016) && set.bugs.has(nbns_model::Bug::Q135277));
        // A client's bug is no server setting.
        assert!(Cli::try_parse_from(["serve", "--kb-bug", "Q153073"]).is_err());
    }
}
