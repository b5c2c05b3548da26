//! States per second of the challenge scenario on 2 threads, and of a peer model in the same
//! run: stateright's two-phase commit example (`examples/2pc.rs` of stateright 0.31, not
//! importable from the crate, so written out again below with the same state, actions and
//! properties), 7 resource managers, BFS.
//! Run: `cargo bench -p nbns-model --bench states`. Output: one stable line per run.
//!
//! Configurations: `challenge --no-delay` (three starts per host; the configuration issue 14's
//! figures were measured on: 2,453,913 states before transaction ids) and its `--large` (four
//! starts), then the delay-mode CI configuration (one start per host, one early timer, one
//! duplicate), then the peer.

use nbns_model::scenarios::{self, Config};
use nbns_model::Bugs;
use stateright::{Checker, Model};
use std::time::Instant;

fn run<M>(label: &str, model: M, threads: usize)
where
    M: Model + Send + Sync + 'static,
    M::State: Clone + std::fmt::Debug + std::hash::Hash + PartialEq + Send + Sync + 'static,
    M::Action: Clone + std::fmt::Debug + PartialEq + Send + Sync + 'static,
{
    let start = Instant::now();
    let c = model.checker().threads(threads).spawn_bfs().join();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "bench {label} threads={threads}: states {} unique {} depth {} {:.3}s {:.0} states/s {:.0} unique/s",
        c.state_count(),
        c.unique_state_count(),
        c.max_depth(),
        secs,
        c.state_count() as f64 / secs,
        c.unique_state_count() as f64 / secs
    );
}

fn main() {
    let threads = 2;
    let sc = scenarios::find("challenge").unwrap();
    for (label, cfg) in [
        ("challenge --no-delay", Config::new(false).no_delay()),
        ("challenge --no-delay --large", Config::new(true).no_delay()),
        ("challenge (delay mode CI)", Config::new(false)),
    ] {
        run(label, sc.configure(Bugs::NONE, &cfg).unwrap(), threads);
    }
    run(
        "peer: stateright 2pc example, 7 RMs",
        two_phase::TwoPhaseSys { rms: 0..7 },
        threads,
    );
}

/// stateright's `examples/2pc.rs` (two-phase commit after Gray and Lamport's TLA+
/// specification), unchanged in state, actions and properties.
mod two_phase {
    use stateright::{Model, Property};
    use std::collections::BTreeSet;
    use std::ops::Range;

    type R = usize;

    #[derive(Clone)]
    pub struct TwoPhaseSys {
        pub rms: Range<R>,
    }

    #[derive(Clone, Debug, Eq, Hash, PartialEq)]
    pub struct TwoPhaseState {
        rm_state: Vec<RmState>,
        tm_state: TmState,
        tm_prepared: Vec<bool>,
        msgs: BTreeSet<Message>,
    }

    #[derive(Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
    enum Message {
        Prepared { rm: R },
        Commit,
        Abort,
    }

    #[derive(Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
    enum RmState {
        Working,
        Prepared,
        Committed,
        Aborted,
    }

    #[derive(Clone, Debug, Eq, Hash, PartialEq)]
    enum TmState {
        Init,
        Committed,
        Aborted,
    }

    #[derive(Clone, Debug, PartialEq)]
    pub enum Action {
        TmRcvPrepared(R),
        TmCommit,
        TmAbort,
        RmPrepare(R),
        RmChooseToAbort(R),
        RmRcvCommitMsg(R),
        RmRcvAbortMsg(R),
    }

    impl Model for TwoPhaseSys {
        type State = TwoPhaseState;
        type Action = Action;

        fn init_states(&self) -> Vec<Self::State> {
            vec![TwoPhaseState {
                rm_state: self.rms.clone().map(|_| RmState::Working).collect(),
                tm_state: TmState::Init,
                tm_prepared: self.rms.clone().map(|_| false).collect(),
                msgs: Default::default(),
            }]
        }

        fn actions(&self, state: &Self::State, actions: &mut Vec<Self::Action>) {
            if state.tm_state == TmState::Init && state.tm_prepared.iter().all(|p| *p) {
                actions.push(Action::TmCommit);
            }
            if state.tm_state == TmState::Init {
                actions.push(Action::TmAbort);
            }
            for rm in self.rms.clone() {
                if state.tm_state == TmState::Init && state.msgs.contains(&Message::Prepared { rm })
                {
                    actions.push(Action::TmRcvPrepared(rm));
                }
                if state.rm_state.get(rm) == Some(&RmState::Working) {
                    actions.push(Action::RmPrepare(rm));
                }
                if state.rm_state.get(rm) == Some(&RmState::Working) {
                    actions.push(Action::RmChooseToAbort(rm));
                }
                if state.msgs.contains(&Message::Commit) {
                    actions.push(Action::RmRcvCommitMsg(rm));
                }
                if state.msgs.contains(&Message::Abort) {
                    actions.push(Action::RmRcvAbortMsg(rm));
                }
            }
        }

        fn next_state(
            &self,
            last_state: &Self::State,
            action: Self::Action,
        ) -> Option<Self::State> {
            let mut state = last_state.clone();
            match action {
                Action::TmRcvPrepared(rm) => state.tm_prepared[rm] = true,
                Action::TmCommit => {
                    state.tm_state = TmState::Committed;
                    state.msgs.insert(Message::Commit);
                }
                Action::TmAbort => {
                    state.tm_state = TmState::Aborted;
                    state.msgs.insert(Message::Abort);
                }
                Action::RmPrepare(rm) => {
                    state.rm_state[rm] = RmState::Prepared;
                    state.msgs.insert(Message::Prepared { rm });
                }
                Action::RmChooseToAbort(rm) => state.rm_state[rm] = RmState::Aborted,
                Action::RmRcvCommitMsg(rm) => state.rm_state[rm] = RmState::Committed,
                Action::RmRcvAbortMsg(rm) => state.rm_state[rm] = RmState::Aborted,
            }
            Some(state)
        }

        fn properties(&self) -> Vec<Property<Self>> {
            vec![
                Property::<Self>::sometimes("abort agreement", |_, state| {
                    state.rm_state.iter().all(|s| s == &RmState::Aborted)
                }),
                Property::<Self>::sometimes("commit agreement", |_, state| {
                    state.rm_state.iter().all(|s| s == &RmState::Committed)
                }),
                Property::<Self>::always("consistent", |_, state| {
                    !state.rm_state.iter().any(|s1| {
                        state
                            .rm_state
                            .iter()
                            .any(|s2| s1 == &RmState::Aborted && s2 == &RmState::Committed)
                    })
                }),
            ]
        }
    }
}
