//! The checked configurations: one per KB bug plus the registration/challenge scenario.

use crate::client::ClientConfig;
use crate::proto::NodeType;
use crate::server::ServerConfig;
use crate::trace;
use crate::world::{self, Action, Prop, ScenarioKind, State, World};
use crate::{Bug, Bugs};
use stateright::{Model, Property};

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
}

/// Every scenario.
pub const SCENARIOS: [Scenario; 6] = [
    Scenario {
        name: "failover",
        kind: ScenarioKind::Failover,
        bug: Some(Bug::Q153073),
        about: "M-node client A registers FOO<00>, FOO<03>, FOO<20>; primary WINS-1 (down at start or may crash once), backup WINS-2; lossy network (one loss; two losses and three tries per stage with --large)",
    },
    Scenario {
        name: "challenge",
        kind: ScenarioKind::Challenge,
        bug: None,
        about: "P-node hosts A and B both run an app that registers unique FOO<00> on WINS-1, each starting up to three times (four with --large); challenges, releases, scavenging; hosts interchangeable (--symmetry)",
    },
    Scenario {
        name: "app-restart",
        kind: ScenarioKind::AppRestart,
        bug: Some(Bug::Q124565),
        about: "host A's app registers CHAT<03>, exits and starts again; peer B resolves it via WINS-1 and sends a datagram and opens and closes a session",
    },
    Scenario {
        name: "mhomed-release",
        kind: ScenarioKind::MhomedRelease,
        bug: Some(Bug::Q184832),
        about: "multihomed host M (NICs .1, .2) registers SRV<20> with opcode 0xF, its service stops and releases the name, then host X registers SRV<20>",
    },
    Scenario {
        name: "static-mhomed",
        kind: ScenarioKind::StaticMhomed,
        bug: Some(Bug::Q164016),
        about: "WINS-1 has a static mapping SRV<20> -> .1; multihomed host M (NICs .1, .2) registers SRV<20> with opcode 0xF",
    },
    Scenario {
        name: "replication",
        kind: ScenarioKind::Replication,
        bug: Some(Bug::Q135277),
        about: "WINS-1, -2, -3 (2 and 3 pull from 1, 3 pulls from 2); multihomed host M registers SRV<20> and SRV<00> (+SRV<03> with --large) at WINS-1 from .1/.2, then moves to .3/.4 and registers them at WINS-2",
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
    pub fn build(&self, bugs: Bugs, large: bool) -> World {
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
            max_drops: 0,
            max_crashes: 0,
            max_starts: 1,
            statics: Vec::new(),
            name_labels: Vec::new(),
        };
        match self.kind {
            ScenarioKind::Failover => {
                w.server_ips = vec![100, 101];
                w.ccfg = vec![client(bugs, NodeType::M, vec![1], [Some(100), Some(101)])];
                w.client_labels = vec!["client A"];
                w.wants = vec![vec![1, 2, 3]];
                w.name_labels = vec![(1, "FOO<00>"), (2, "FOO<03>"), (3, "FOO<20>")];
                w.init_up = vec![0b11, 0b10];
                w.max_crashes = 1;
                // The promise needs fewer losses than a stage has tries.
                w.max_drops = if large { 2 } else { 1 };
                if large {
                    w.ccfg[0].retries = 3;
                }
            }
            ScenarioKind::Challenge => {
                w.ccfg = vec![
                    client(bugs, NodeType::P, vec![1], [Some(100), None]),
                    client(bugs, NodeType::P, vec![2], [Some(100), None]),
                ];
                w.wants = vec![vec![1], vec![1]];
                w.name_labels = vec![(1, "FOO<00>")];
                w.max_starts = if large { 4 } else { 3 };
            }
            ScenarioKind::AppRestart => {
                w.ccfg = vec![
                    client(bugs, NodeType::P, vec![1], [Some(100), None]),
                    client(bugs, NodeType::P, vec![2], [Some(100), None]),
                ];
                w.client_labels = vec!["host A", "peer B"];
                w.wants = vec![vec![1], vec![]];
                w.name_labels = vec![(1, "CHAT<03>")];
                w.max_starts = if large { 3 } else { 2 };
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
                w.server_ips = vec![100, 101, 102];
                w.ccfg = vec![
                    client(bugs, NodeType::P, vec![1, 2], [Some(100), None]),
                    client(bugs, NodeType::P, vec![3, 4], [Some(101), None]),
                ];
                w.client_labels = vec!["host M (old addresses)", "host M (new addresses)"];
                // Two names (the CI run); the --large run adds a third.
                let names: Vec<u8> = if large { vec![1, 2, 3] } else { vec![1, 2] };
                w.wants = vec![names.clone(), names];
                w.name_labels = vec![(1, "SRV<20>"), (2, "SRV<00>"), (3, "SRV<03>")];
                w.initially_alive = 0b01;
                w.pulls = vec![(1, 0), (2, 0), (2, 1)];
            }
        }
        w
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
            v.push(Property::always(
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
            v.push(Property::always(
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
