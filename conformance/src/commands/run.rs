//! `nbns-conform run`: runs the role the options ask for.

use crate::roles::options::{Role, RunArgs};

/// Runs the role `args` asks for; returns the exit status.
pub fn dispatch(args: &RunArgs) -> i32 {
    match args.role {
        Role::Server => crate::roles::server::run(args),
        Role::Client => crate::roles::client::run(args),
        Role::Replication => crate::roles::replication::run(args),
    }
}
