//! Scripts for targets configured otherwise than the embedded one: each carries a
//! `settings` line (see `TargetSettings`), and the embedded target runs it with those
//! settings. Kept are the paths where the setting changes an answer, up to that answer: a
//! sequence whose steps all behave as under the default settings is the main library's.
//! (A partner's static replica, then a client's request: the only records a client's
//! request meets with MigrateOn mattering; the target's own names are defended before.)

use super::*;

/// A server setting WINS servers differ in, as the model and a script's `settings` line
/// write it.
struct Variant {
    /// The `settings` line's fields.
    line: &'static str,
    /// Directory and label of its scripts.
    label: &'static str,
    /// What the title adds.
    note: &'static str,
    apply: fn(&mut ServerConfig),
}

const VARIANTS: [Variant; 1] = [
    // Windows' MigrateOn off: a static mapping is never challenged by a registration.
    // (nmbd's NAM_ERR to a release of a name it does not hold is not a setting here: RFC
    // 1002 4.2.11 allows no NAM_ERR in a release response, and the model gives it only to
    // replay nmbd's captures.)
    Variant {
        line: "migrate-on=no",
        label: "mig",
        note: "a target with MigrateOn off",
        apply: |c| c.migrate_on = false,
    },
];

/// The scripts of every variant, under `set/`.
pub(super) fn scripts(default: &ServerConfig, stats: &mut Stats) -> Vec<Generated> {
    let mut scripts = Vec::new();
    for v in &VARIANTS {
        let mut cfg = default.clone();
        (v.apply)(&mut cfg);
        let mut mine = replica::over_static(default, &cfg, "set", &format!("{}-static", v.label));
        for g in &mut mine {
            g.text = with_settings(&g.text, v.line, v.note);
        }
        stats.distinct += mine.len();
        scripts.extend(mine);
    }
    scripts
}

/// `text` with a `settings` line after its header and the setting in its title.
fn with_settings(text: &str, line: &str, note: &str) -> String {
    let mut out = String::new();
    let mut placed = false;
    for l in text.lines() {
        if let Some(title) = l.strip_prefix("title ") {
            let _ = writeln!(out, "title {title} ({note})");
            continue;
        }
        let header = l.starts_with("tags ") || l.starts_with("refs ");
        if !placed && !header && !l.starts_with("title ") {
            let _ = writeln!(out, "settings  {line}");
            placed = true;
        }
        out.push_str(l);
        out.push('\n');
    }
    out
}
