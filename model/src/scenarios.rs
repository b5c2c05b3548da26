//! The checked configurations: one per KB bug plus the registration/challenge scenario.

use crate::client::ClientConfig;
use crate::proto::NodeType;
use crate::server::ServerConfig;
use crate::trace;
use crate::world::{self, Action, Net, Prop, ScenarioKind, State, World};
use crate::{Bug, Bugs};
use stateright::{Model, Property};

/// A dimension of a scenario a user may choose (`--clients N` ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dim {
    /// Hosts competing for the name.
    Clients,
    /// Names the host registers.
    Names,
    /// WINS servers.
    Servers,
    /// Messages the network may lose in one run.
    Losses,
    /// Times an application may start again after exiting.
    Restarts,
}

impl Dim {
    /// Every dimension.
    pub const ALL: [Dim; 5] = [
        Dim::Clients,
        Dim::Names,
        Dim::Servers,
        Dim::Losses,
        Dim::Restarts,
    ];

    /// The CLI option.
    pub fn flag(self) -> &'static str {
        match self {
            Dim::Clients => "--clients",
            Dim::Names => "--names",
            Dim::Servers => "--servers",
            Dim::Losses => "--losses",
            Dim::Restarts => "--restarts",
        }
    }

    /// Parses a CLI option.
    pub fn parse(flag: &str) -> Option<Dim> {
        Dim::ALL.into_iter().find(|d| d.flag() == flag)
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A dimension a scenario takes: its bounds and its values in the CI and `--large`
/// configurations.
#[derive(Clone, Copy, Debug)]
pub struct DimSpec {
    /// Which.
    pub dim: Dim,
    /// Smallest value the scenario's story allows.
    pub min: u8,
    /// Largest value the model's types hold (slot arrays, bitmasks, `u8` counters, labels).
    pub max: u8,
    /// The CI configuration's value.
    pub ci: u8,
    /// The `--large` configuration's value.
    pub large: u8,
    /// The CI and `--large` values in delay mode, where the state space needs smaller ones.
    pub delay: (u8, u8),
    /// Why `max` is the bound.
    pub why: &'static str,
}

const fn dim(dim: Dim, min: u8, max: u8, ci: u8, large: u8, why: &'static str) -> DimSpec {
    DimSpec {
        dim,
        min,
        max,
        ci,
        large,
        delay: (ci, large),
        why,
    }
}

impl DimSpec {
    /// The same with other CI and `--large` values in delay mode.
    const fn in_delay_mode(mut self, ci: u8, large: u8) -> DimSpec {
        self.delay = (ci, large);
        self
    }
}

const LOSSES_WHY: &str = "the loss counter is a u8";
const RESTARTS_WHY: &str = "the start counter is a u8";

/// Sizes a user chose (None: the CI or `--large` value).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sizes([Option<u8>; 5]);

impl Sizes {
    /// The chosen value of `d`.
    pub fn get(&self, d: Dim) -> Option<u8> {
        self.0[d.index()]
    }

    /// Chooses `d = v`.
    pub fn set(&mut self, d: Dim, v: u8) {
        self.0[d.index()] = Some(v);
    }

    /// The chosen dimensions.
    pub fn chosen(&self) -> impl Iterator<Item = (Dim, u8)> + '_ {
        Dim::ALL
            .into_iter()
            .filter_map(move |d| self.get(d).map(|v| (d, v)))
    }
}

/// How to build a scenario's model.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// Start from the `--large` values.
    pub large: bool,
    /// Dimensions the user chose.
    pub sizes: Sizes,
    /// Network semantics (None: the scenario's default delay mode).
    pub net: Option<Net>,
    /// Delay mode: most early timers a run (None: the scenario's default).
    pub early_timers: Option<u8>,
    /// Delay mode: most duplicated datagrams a run (None: the scenario's default).
    pub duplicates: Option<u8>,
}

impl Config {
    /// The CI (`large` false) or `--large` configuration in delay mode.
    pub fn new(large: bool) -> Self {
        Config {
            large,
            sizes: Sizes::default(),
            net: None,
            early_timers: None,
            duplicates: None,
        }
    }

    /// The same with the original semantics (`--no-delay`).
    pub fn no_delay(mut self) -> Self {
        self.net = Some(Net::NO_DELAY);
        self
    }
}

/// A scenario as listed by `nbns-model list`.
#[derive(Clone, Copy, Debug)]
pub struct Scenario {
    /// CLI name.
    pub name: &'static str,
    /// Family.
    pub kind: ScenarioKind,
    /// The KB bug this scenario rediscovers (None: base rules only).
    pub bug: Option<Bug>,
    /// Actors and what is checked, for `list`.
    pub about: &'static str,
    /// The dimensions it takes.
    pub dims: &'static [DimSpec],
}

/// Every scenario.
pub const SCENARIOS: [Scenario; 6] = [
    Scenario {
        name: "failover",
        kind: ScenarioKind::Failover,
        bug: Some(Bug::Q153073),
        about: "M-node client A registers FOO<00>, FOO<03>, FOO<20>; primary WINS-1 (down at start or may crash once), backup WINS-2; lossy network (one loss; two losses and three tries per stage with --large); a stage sends one more time than the losses allowed",
        dims: &[
            dim(Dim::Names, 1, 6, 3, 3, "six NetBIOS suffixes are labelled"),
            dim(Dim::Losses, 0, 254, 1, 2, LOSSES_WHY),
        ],
    },
    Scenario {
        name: "challenge",
        kind: ScenarioKind::Challenge,
        bug: None,
        about: "P-node hosts A and B both run an app that registers unique FOO<00> on WINS-1, each starting up to three times (four with --large; in delay mode once, twice with --large); challenges, releases, scavenging; hosts interchangeable (--symmetry, two hosts)",
        dims: &[
            dim(Dim::Clients, 2, 4, 2, 2, "world::MAX_CLIENTS slots"),
            dim(Dim::Losses, 0, 254, 0, 0, LOSSES_WHY),
            // Delay mode: restarts 2 with one early timer and one duplicate did not exhaust in
            // 10 minutes (50 M unique states at depth 24; model/README.md).
            dim(Dim::Restarts, 0, 253, 2, 3, RESTARTS_WHY).in_delay_mode(0, 1),
        ],
    },
    Scenario {
        name: "app-restart",
        kind: ScenarioKind::AppRestart,
        bug: Some(Bug::Q124565),
        about: "host A's app registers CHAT<03>, exits and starts again; peer B resolves it via WINS-1 and sends a datagram and opens and closes a session",
        dims: &[
            dim(Dim::Losses, 0, 254, 0, 0, LOSSES_WHY),
            dim(Dim::Restarts, 1, 253, 1, 2, RESTARTS_WHY),
        ],
    },
    Scenario {
        name: "mhomed-release",
        kind: ScenarioKind::MhomedRelease,
        bug: Some(Bug::Q184832),
        about: "multihomed host M (NICs .1, .2) registers SRV<20> with opcode 0xF, its service stops and releases the name, then host X registers SRV<20>",
        dims: &[dim(Dim::Losses, 0, 254, 0, 0, LOSSES_WHY)],
    },
    Scenario {
        name: "static-mhomed",
        kind: ScenarioKind::StaticMhomed,
        bug: Some(Bug::Q164016),
        about: "WINS-1 has a static mapping SRV<20> -> .1; multihomed host M (NICs .1, .2) registers SRV<20> with opcode 0xF",
        dims: &[dim(Dim::Losses, 0, 254, 0, 0, LOSSES_WHY)],
    },
    Scenario {
        name: "replication",
        kind: ScenarioKind::Replication,
        bug: Some(Bug::Q135277),
        about: "WINS-1, -2, -3 (2 and 3 pull from 1, 3 pulls from 2); multihomed host M registers SRV<20> and SRV<00> (+SRV<03> with --large) at WINS-1 from .1/.2, then moves to .3/.4 and registers them at WINS-2; with --servers 4 a WINS-4 pulls from WINS-1 and WINS-3",
        dims: &[
            dim(Dim::Names, 1, 4, 2, 3, "four NetBIOS suffixes are labelled"),
            dim(Dim::Servers, 3, 4, 3, 3, "world::MAX_SERVERS slots"),
            dim(Dim::Losses, 0, 254, 0, 0, LOSSES_WHY),
        ],
    },
];

/// Looks a scenario up by name.
pub fn find(name: &str) -> Option<&'static Scenario> {
    SCENARIOS.iter().find(|s| s.name == name)
}

/// The scenario that rediscovers `bug`.
pub fn for_bug(bug: Bug) -> &'static Scenario {
    SCENARIOS
        .iter()
        .find(|s| s.bug == Some(bug))
        .expect("every bug has a scenario")
}

fn client(bugs: Bugs, node: NodeType, nics: Vec<u8>, wins: [Option<u8>; 2]) -> ClientConfig<u8> {
    let mut c = ClientConfig::new(node, nics, wins);
    c.bugs = bugs;
    c
}

impl Scenario {
    /// The model of this scenario with `bugs` switched on; `large` picks the bigger bounds.
    /// Delay mode (the default network semantics).
    pub fn build(&self, bugs: Bugs, large: bool) -> World {
        self.configure(bugs, &Config::new(large))
            .expect("the CI and --large configurations are valid")
    }

    /// The spec of dimension `d`, when the scenario takes it.
    pub fn dim(&self, d: Dim) -> Option<&'static DimSpec> {
        self.dims.iter().find(|x| x.dim == d)
    }

    /// The default delay-mode network of this scenario: one early timer and one duplicate a
    /// run (keeps the CI configurations at seconds).
    pub fn default_net(&self) -> Net {
        Net::delays(1, 1)
    }

    /// The model of this scenario with `bugs` switched on in configuration `cfg`; an error
    /// names a dimension the scenario does not take or a value out of its bounds.
    pub fn configure(&self, bugs: Bugs, cfg: &Config) -> Result<World, String> {
        for (d, v) in cfg.sizes.chosen() {
            let Some(spec) = self.dim(d) else {
                let takes: Vec<&str> = self.dims.iter().map(|x| x.dim.flag()).collect();
                return Err(format!(
                    "scenario `{}` does not take {} (it takes: {})",
                    self.name,
                    d.flag(),
                    if takes.is_empty() {
                        "none".to_string()
                    } else {
                        takes.join(" ")
                    }
                ));
            };
            if v < spec.min || v > spec.max {
                return Err(format!(
                    "{} {v} is out of bounds for `{}`: {}..={} ({})",
                    d.flag(),
                    self.name,
                    spec.min,
                    spec.max,
                    if v > spec.max {
                        spec.why
                    } else {
                        "the scenario's story needs it"
                    }
                ));
            }
        }
        let net = cfg.net.unwrap_or_else(|| {
            let d = self.default_net();
            Net::delays(
                cfg.early_timers.unwrap_or(d.max_late),
                cfg.duplicates.unwrap_or(d.max_dups),
            )
        });
        let size = |d: Dim| -> u8 {
            let spec = self.dim(d).expect("a dimension of the scenario");
            let (ci, large) = if net.delay {
                spec.delay
            } else {
                (spec.ci, spec.large)
            };
            cfg.sizes
                .get(d)
                .unwrap_or(if cfg.large { large } else { ci })
        };
        let scfg = ServerConfig {
            bugs,
            ..ServerConfig::default()
        };
        let mut w = World {
            name: self.name,
            kind: self.kind,
            bugs,
            server_ips: vec![100],
            scfg,
            ccfg: Vec::new(),
            client_labels: vec!["client A", "client B"],
            wants: Vec::new(),
            initially_alive: 0xFF,
            pulls: Vec::new(),
            init_up: vec![0xFF],
            max_drops: size(Dim::Losses),
            net,
            max_crashes: 0,
            max_starts: 1,
            statics: Vec::new(),
            name_labels: Vec::new(),
            stop: None,
        };
        match self.kind {
            ScenarioKind::Failover => {
                w.server_ips = vec![100, 101];
                w.ccfg = vec![client(bugs, NodeType::M, vec![1], [Some(100), Some(101)])];
                w.client_labels = vec!["client A"];
                let labels = [
                    "FOO<00>", "FOO<03>", "FOO<20>", "FOO<1F>", "FOO<06>", "FOO<21>",
                ];
                let n = size(Dim::Names);
                w.wants = vec![(1..=n).collect()];
                w.name_labels = (1..=n).zip(labels).collect();
                w.init_up = vec![0b11, 0b10];
                w.max_crashes = 1;
                // The promise needs a stage to have more tries than the network may lose
                // (or delay past the client's timer: to the client a late answer is a loss).
                let early = if w.net.delay { w.net.max_late } else { 0 };
                w.ccfg[0].retries = w.max_drops.saturating_add(early).saturating_add(1).max(2);
            }
            ScenarioKind::Challenge => {
                let n = size(Dim::Clients);
                w.ccfg = (1..=n)
                    .map(|ip| client(bugs, NodeType::P, vec![ip], [Some(100), None]))
                    .collect();
                w.client_labels =
                    ["client A", "client B", "client C", "client D"][..n as usize].to_vec();
                w.wants = vec![vec![1]; n as usize];
                w.name_labels = vec![(1, "FOO<00>")];
                w.max_starts = size(Dim::Restarts) + 1;
            }
            ScenarioKind::AppRestart => {
                w.ccfg = vec![
                    client(bugs, NodeType::P, vec![1], [Some(100), None]),
                    client(bugs, NodeType::P, vec![2], [Some(100), None]),
                ];
                w.client_labels = vec!["host A", "peer B"];
                w.wants = vec![vec![1], vec![]];
                w.name_labels = vec![(1, "CHAT<03>")];
                w.max_starts = size(Dim::Restarts) + 1;
            }
            ScenarioKind::MhomedRelease => {
                w.ccfg = vec![
                    client(bugs, NodeType::P, vec![1, 2], [Some(100), None]),
                    client(bugs, NodeType::P, vec![3], [Some(100), None]),
                ];
                w.client_labels = vec!["host M", "host X"];
                w.wants = vec![vec![1], vec![1]];
                w.name_labels = vec![(1, "SRV<20>")];
            }
            ScenarioKind::StaticMhomed => {
                w.ccfg = vec![client(bugs, NodeType::P, vec![1, 2], [Some(100), None])];
                w.client_labels = vec!["host M"];
                w.wants = vec![vec![1]];
                w.name_labels = vec![(1, "SRV<20>")];
                w.statics = vec![(0, 1, vec![1])];
            }
            ScenarioKind::Replication => {
                let servers = size(Dim::Servers);
                w.server_ips = (0..servers).map(|i| 100 + i).collect();
                w.ccfg = vec![
                    client(bugs, NodeType::P, vec![1, 2], [Some(100), None]),
                    client(bugs, NodeType::P, vec![3, 4], [Some(101), None]),
                ];
                w.client_labels = vec!["host M (old addresses)", "host M (new addresses)"];
                // Two names (the CI run); the --large run adds a third.
                let names: Vec<u8> = (1..=size(Dim::Names)).collect();
                w.wants = vec![names.clone(), names];
                w.name_labels = vec![
                    (1, "SRV<20>"),
                    (2, "SRV<00>"),
                    (3, "SRV<03>"),
                    (4, "SRV<1F>"),
                ];
                w.initially_alive = 0b01;
                // WINS-2 pulls from WINS-1; every further server from WINS-1 and the one
                // before it.
                w.pulls = vec![(1, 0)];
                for i in 2..servers {
                    w.pulls.push((i, 0));
                    w.pulls.push((i, i - 1));
                }
            }
        }
        Ok(w)
    }
}

/// The stateright binding of a scenario's world: its transitions (from [`crate::world`]), the
/// properties of its family, and the explorer's view of a step (from [`crate::trace`]).
impl Model for World {
    type State = State;
    type Action = Action;

    fn init_states(&self) -> Vec<State> {
        self.initial_states()
    }

    fn actions(&self, s: &State, acts: &mut Vec<Action>) {
        self.enabled_actions(s, acts);
    }

    fn next_state(&self, last: &State, action: Action) -> Option<State> {
        self.step(last, action)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        properties(self.kind)
    }

    fn within_boundary(&self, _s: &State) -> bool {
        // A simulation run stops its sibling runs through this flag (see `check`).
        self.stop
            .as_ref()
            .is_none_or(|f| !f.load(std::sync::atomic::Ordering::Relaxed))
    }

    fn format_action(&self, action: &Action) -> String {
        trace::action(self, action)
    }

    fn format_step(&self, last: &State, action: Action) -> Option<String> {
        let next = self.step(last, action)?;
        let mut s = trace::changes(self, last, &next).join("\n");
        s.push_str(&format!("\n\n{next:#?}"));
        Some(s)
    }
}

/// The properties of a scenario family, named after their promises.
pub fn properties(kind: ScenarioKind) -> Vec<Prop> {
    let mut v: Vec<Prop> = vec![Property::always(
        "version ids per owner strictly increase",
        world::versions_increase,
    )];
    match kind {
        ScenarioKind::Failover => {
            v.push(Property::eventually(
                "every requested name ends registered on a live server",
                world::every_name_registered_on_live_server,
            ));
            v.push(Property::sometimes(
                "a failover happens",
                world::failover_happens,
            ));
        }
        ScenarioKind::Challenge => {
            v.push(Property::always(
                "no two hosts hold a unique name active on one server",
                world::no_two_hosts_hold_unique_name,
            ));
            v.push(Property::sometimes(
                "a name really is challenged",
                world::name_is_challenged,
            ));
            v.push(Property::sometimes(
                "a newcomer takes over a released name",
                world::newcomer_takes_over,
            ));
        }
        ScenarioKind::AppRestart => {
            v.push(Property::always(
                "an exited app's names can be registered again",
                world::exited_app_names_can_register_again,
            ));
            v.push(Property::sometimes(
                "the app runs a second time",
                world::app_runs_twice,
            ));
            v.push(Property::sometimes(
                "a datagram and a session reach the name",
                world::datagram_then_session,
            ));
        }
        ScenarioKind::MhomedRelease => {
            v.push(Property::always(
                "a released multihomed name leaves none of its addresses",
                world::released_mhomed_name_leaves_no_address,
            ));
            v.push(Property::sometimes(
                "a multihomed record lists both NICs",
                world::mhomed_record_has_both_nics,
            ));
            v.push(Property::sometimes(
                "another host takes the released name",
                world::other_host_takes_released_name,
            ));
        }
        ScenarioKind::StaticMhomed => {
            v.push(Property::always(
                "a static mapping never conflict-releases a dynamic multihomed host",
                world::static_never_conflicts_mhomed_host,
            ));
            v.push(Property::sometimes(
                "the static mapping gives way to the multihomed host",
                world::static_gives_way,
            ));
            v.push(Property::sometimes(
                "a name really is challenged",
                world::name_is_challenged,
            ));
        }
        ScenarioKind::Replication => {
            v.push(Property::eventually(
                "partners converge on the newest version",
                world::partners_converge_on_newest,
            ));
            v.push(Property::sometimes(
                "the moved host's record replicates",
                world::moved_host_replicated,
            ));
        }
    }
    v
}

/// The property a bug breaks (the one its scenario's check must find a counterexample to).
pub fn broken_by(bug: Bug) -> &'static str {
    match bug {
        Bug::Q153073 => "every requested name ends registered on a live server",
        Bug::Q135277 => "partners converge on the newest version",
        Bug::Q124565 => "an exited app's names can be registered again",
        Bug::Q184832 => "a released multihomed name leaves none of its addresses",
        Bug::Q164016 => "a static mapping never conflict-releases a dynamic multihomed host",
    }
}
