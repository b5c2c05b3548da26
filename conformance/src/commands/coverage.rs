//! `nbns-conform coverage`: which rule of `conformance/rules.txt` is checked by what.
//!
//! A rule is covered by the scripts that name it on a `refs` line, by the strict layout
//! check that runs on every packet ([`crate::strict::CHECKED_RULES`]), or by the replication
//! role ([`REPLICATION`]). A rule marked `[not testable: REASON]` in the rules file is counted
//! apart; every other rule is `UNCOVERED`. An ID that a script (or either list) names but
//! the rules file does not is an error: a typo must not count as coverage.

use crate::script::format::check_rule_id;
use crate::script::library;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// `nbns-conform coverage`'s options.
#[derive(Debug, Clone, clap::Args)]
pub struct CoverageArgs {
    /// The rules file. Default: `rules.txt` next to the first script directory given,
    /// else the crate's `conformance/rules.txt`.
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
    /// Scripts or directories of scripts (*.nbt). Default: the server and client libraries.
    #[arg(value_name = "SCRIPTS")]
    pub paths: Vec<PathBuf>,
}

/// What the strict layout check covers, as `coverage` names it.
pub const STRICT: &str = "strict check (every packet)";

/// Rules of MS-WINSRA that `run --role replication` checks, with the part that checks them.
/// Only rules whose breach makes a replication case fail are listed.
pub const REPLICATION: &[(&str, &str)] = &[
    // The conflict matrix compares the record the target ends with (owner, type, state,
    // static flag, addresses) with the model's prediction, and counts the challenge
    // queries and release demands its holders receive.
    ("WINSRA-3.2.5.5-SAME-OWNER-REPLACES", "replication matrix"),
    ("WINSRA-3.2.5.5-STATIC-KEPT", "replication matrix"),
    (
        "WINSRA-3.2.5.5-ACTIVE-NOT-BY-INACTIVE",
        "replication matrix",
    ),
    ("WINSRA-3.2.5.5-INACTIVE-REPLACED", "replication matrix"),
    ("WINSRA-3.2.5.5-REPLICA-UNIQUE-NEWER", "replication matrix"),
    ("WINSRA-3.2.5.5-GROUP-STAYS", "replication matrix"),
    ("WINSRA-3.2.5.5-GROUP-INACTIVE", "replication matrix"),
    ("WINSRA-3.2.5.5-SGROUP-MERGE", "replication matrix"),
    ("WINSRA-3.2.5.5-OWNED-CHALLENGE", "replication matrix"),
    ("WINSRA-3.2.5.5-CHALLENGE-KEEPS", "replication matrix"),
    ("WINSRA-3.2.5.5-CHALLENGE-REPLACES", "replication matrix"),
    (
        "WINSRA-3.2.5.5-CHALLENGE-MHOMED-MERGE",
        "replication matrix",
    ),
    ("WINSRA-3.2.5.5-OWNED-SUBSET", "replication matrix"),
    ("WINSRA-3.2.5.5-GROUP-RELEASE-DEMAND", "replication matrix"),
    ("WINSRA-3.2.5.5-OWNED-VS-TOMBSTONE", "replication matrix"),
    // A case whose record is expected released fails when the pull shows it.
    ("WINSRA-3.2.5.1-NO-RELEASED-SENT", "replication matrix"),
    // Every case starts with an association and a map request, and reads the target's
    // view with send-entries requests, through the checked codec.
    ("WINSRA-2.1-TCP-42", "replication matrix"),
    ("WINSRA-2.2.2-LENGTH", "replication matrix"),
    ("WINSRA-2.2.6-MAP-REQUEST", "replication matrix"),
    ("WINSRA-2.2.9-RECORDS-REQUEST", "replication matrix"),
    ("WINSRA-2.2.10-COUNT-MATCH", "replication matrix"),
    ("WINSRA-2.2.10.1-NAME-LENGTH", "replication matrix"),
    ("WINSRA-2.2.10.1-ONE-ADDR", "replication matrix"),
    // The records pulled are parsed by the checked codec, which reads the padding after
    // each name: other padding misaligns every later field, and the case fails.
    ("WINSRA-2.2.10.1-PADDING", "replication matrix"),
    // Special group and multihomed cases compare every address's owner with the model's
    // prediction (Rec::others), read from the count and owner/member pairs of each record.
    ("WINSRA-2.2.10.1-OWNER-PER-ADDR", "replication matrix"),
    ("WINSRA-3.2.5.5-SGROUP-OWNERS-KEPT", "replication matrix"),
    // three-owners/B_3_4_X_3_4-vs-B:A_3_4: B's replica no longer lists B's old members,
    // which the predicted merge drops (matrix.rs's test pins it).
    ("WINSRA-3.2.5.5-SGROUP-OWNER-DROPS", "replication matrix"),
    // Push by inform notification: the target must connect back and pull.
    (
        "WINSRA-2.2.8-UPDATE-TRIGGERS-PULL",
        "replication inform case",
    ),
    // version-id/increase: fresh registrations get strictly increasing versions.
    ("WINSRA-3.1.1.2-NEW-VERSION", "replication version-id cases"),
    // version-id/increase reads the target's own max version from its map response before
    // and after registering: absent from the map (0) or below the newest record, it fails.
    (
        "WINSRA-2.2.7-MAP-INCLUDES-SELF",
        "replication version-id cases",
    ),
    (
        "WINSRA-2.2.7.1-MAX-IS-HIGHEST",
        "replication version-id cases",
    ),
    // version-id/across-restart: the target restarted by --restart-cmd (the embedded
    // reference in process; scripts/conform-samba-wrepl.sh restarts the AD DC) must give a
    // new record a version above every one it gave before.
    (
        "WINSRA-3.1.1.2-VERSION-PERSISTS",
        "replication version-id case across-restart",
    ),
    // The protocol cases (roles/replication/protocol.rs), one rule each.
    (
        "WINSRA-2.2.3-START-MAJOR-2",
        "replication case session/start-major-3",
    ),
    (
        "WINSRA-3.1.5.1-STOP-NO-RESPONSE",
        "replication case session/stop-no-response",
    ),
    (
        "WINSRA-3.1.5.1-STOP-CLOSES",
        "replication case session/stop-closes",
    ),
    (
        "WINSRA-2.2.8-UPDATE-OPCODES",
        "replication case push/update-opcode-6",
    ),
    ("WINSRA-2.2.10.1-L-FLAG", "replication case records/l-flag"),
    (
        "WINSRA-2.2.10.1-OVERLONG-NAME",
        "replication case records/overlong-name",
    ),
    (
        "WINSRA-3.1.1.2-ADDR-ADDED-VERSION",
        "replication case version-id/address-added",
    ),
    (
        "WINSRA-3.1.1.2-TAKE-OWNERSHIP",
        "replication case version-id/take-ownership",
    ),
    (
        "WINSRA-3.1.6-RELEASE-NO-VERSION",
        "replication case version-id/release-keeps-version",
    ),
    (
        "WINSRA-3.2.5.1-MIN-PLUS-ONE",
        "replication case pull/min-plus-one",
    ),
    (
        "WINSRA-3.2.5.1-NO-REQUEST-IF-CURRENT",
        "replication case pull/no-request-if-current",
    ),
    ("WINSRA-3.3.5.2-RANGE", "replication case records/range"),
    (
        "WINSRA-3.3.5.2-NONPARTNER",
        "replication case records/non-partner",
    ),
];

/// One rule of the rules file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub id: String,
    pub text: String,
    /// The reason of a `[not testable: REASON]` mark.
    pub not_testable: Option<String>,
}

/// Parses a rules file: one rule a line (`ID  paraphrase`), `#` comments, blank lines.
/// Errors name the line.
pub fn parse_rules(text: &str) -> Result<Vec<Rule>, String> {
    let mut rules = Vec::new();
    let mut seen = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let lineno = i + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (id, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        check_rule_id(id).map_err(|e| format!("line {lineno}: {e}"))?;
        let text = rest.trim();
        if text.is_empty() {
            return Err(format!("line {lineno}: rule {id} has no text"));
        }
        if let Some(first) = seen.insert(id.to_string(), lineno) {
            return Err(format!(
                "line {lineno}: rule {id} is defined twice (first on line {first})"
            ));
        }
        let not_testable = match text.find("[not testable:") {
            None => None,
            Some(at) => {
                let tail = &text[at + "[not testable:".len()..];
                let end = tail
                    .find(']')
                    .ok_or_else(|| format!("line {lineno}: unclosed `[not testable:` mark"))?;
                let reason = tail[..end].trim();
                if reason.is_empty() {
                    return Err(format!("line {lineno}: `[not testable:` needs a reason"));
                }
                Some(reason.to_string())
            }
        };
        rules.push(Rule {
            id: id.to_string(),
            text: text.to_string(),
            not_testable,
        });
    }
    if rules.is_empty() {
        return Err("no rules".into());
    }
    Ok(rules)
}

/// The coverage of every rule: who checks it, in rule order.
#[derive(Debug, Clone)]
pub struct Coverage<'a> {
    pub rules: &'a [Rule],
    /// Rule ID -> what covers it (script names, the strict check, the replication role).
    pub by: BTreeMap<&'a str, Vec<String>>,
}

impl Coverage<'_> {
    /// (covered, uncovered, not testable)
    pub fn counts(&self) -> (usize, usize, usize) {
        let mut n = (0, 0, 0);
        for r in self.rules {
            if self.by.contains_key(r.id.as_str()) {
                n.0 += 1;
            } else if r.not_testable.is_some() {
                n.2 += 1;
            } else {
                n.1 += 1;
            }
        }
        n
    }

    /// The report: one line a rule, then the summary line.
    pub fn report(&self) -> String {
        let width = self.rules.iter().map(|r| r.id.len()).max().unwrap_or(0);
        let mut out = String::new();
        for r in self.rules {
            let what = match (self.by.get(r.id.as_str()), &r.not_testable) {
                (Some(by), _) => by.join(", "),
                (None, Some(reason)) => format!("not testable: {reason}"),
                (None, None) => "UNCOVERED".to_string(),
            };
            out.push_str(&format!("{:width$}  {what}\n", r.id));
        }
        let (c, u, x) = self.counts();
        out.push_str(&format!(
            "coverage: {} rules, {c} covered, {u} uncovered, {x} not testable\n",
            self.rules.len()
        ));
        out
    }
}

/// Joins the rules with what references them. `scripts` are (script name, its refs);
/// `others` are (rule ID, what covers it). Every ID must be a rule: the unknown ones are
/// the error, each with who named it.
pub fn cover<'a>(
    rules: &'a [Rule],
    scripts: &[(String, Vec<String>)],
    others: &[(&str, &str)],
) -> Result<Coverage<'a>, Vec<String>> {
    let index: HashMap<&str, &'a str> = rules
        .iter()
        .map(|r| (r.id.as_str(), r.id.as_str()))
        .collect();
    let mut by: BTreeMap<&'a str, Vec<String>> = BTreeMap::new();
    let mut unknown = Vec::new();
    let mut add = |id: &str, what: &str, who: &str| match index.get(id) {
        Some(&rid) => {
            let v = by.entry(rid).or_default();
            if !v.iter().any(|w| w == what) {
                v.push(what.to_string());
            }
        }
        None => unknown.push(format!("{who} names unknown rule {id}")),
    };
    for (name, refs) in scripts {
        for id in refs {
            add(id, name, &format!("script {name}"));
        }
    }
    for (id, what) in others {
        add(id, what, what);
    }
    if unknown.is_empty() {
        Ok(Coverage { rules, by })
    } else {
        Err(unknown)
    }
}

/// The default rules file for these script paths.
fn default_rules(paths: &[PathBuf]) -> PathBuf {
    paths
        .iter()
        .find(|p| p.is_dir())
        .and_then(|p| p.canonicalize().ok())
        .and_then(|p| p.parent().map(|d| d.join("rules.txt")))
        .filter(|r| r.is_file())
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/rules.txt")))
}

/// The scripts of each path with their refs; a directory's scripts are named
/// `DIR/name` (`scripts/registration/new-unique`) so that libraries stay apart.
fn load_refs(paths: &[PathBuf]) -> Result<Vec<(String, Vec<String>)>, Vec<String>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        match library::load(std::slice::from_ref(p), None) {
            Ok(scripts) => {
                let prefix = p
                    .is_dir()
                    .then(|| dir_name(p))
                    .flatten()
                    .map(|d| format!("{d}/"))
                    .unwrap_or_default();
                out.extend(
                    scripts
                        .into_iter()
                        .map(|s| (format!("{prefix}{}", s.name), s.refs)),
                );
            }
            Err(es) => errors.extend(es.into_iter().map(|e| e.to_string())),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn dir_name(p: &Path) -> Option<String> {
    let p = p.canonicalize().ok()?;
    Some(p.file_name()?.to_string_lossy().into_owned())
}

/// Runs the command; returns the exit status (0 every rule covered or not testable,
/// 1 some rule uncovered, 2 a bad rules file, a script error or an unknown rule ID).
pub fn main(args: &CoverageArgs) -> i32 {
    let paths = if args.paths.is_empty() {
        vec![
            PathBuf::from(crate::roles::server::LIBRARY),
            PathBuf::from(crate::roles::client::LIBRARY),
        ]
    } else {
        args.paths.clone()
    };
    let rules_path = args.rules.clone().unwrap_or_else(|| default_rules(&paths));
    let text = match std::fs::read_to_string(&rules_path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {}: cannot read: {e}", rules_path.display());
            return 2;
        }
    };
    let rules = match parse_rules(&text) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {}: {e}", rules_path.display());
            return 2;
        }
    };
    let scripts = match load_refs(&paths) {
        Ok(s) => s,
        Err(es) => {
            for e in es {
                eprintln!("error: {e}");
            }
            return 2;
        }
    };
    let mut others: Vec<(&str, &str)> = crate::strict::CHECKED_RULES
        .iter()
        .map(|&id| (id, STRICT))
        .collect();
    others.extend_from_slice(REPLICATION);
    match cover(&rules, &scripts, &others) {
        Ok(cov) => {
            print!("{}", cov.report());
            if cov.counts().1 == 0 {
                0
            } else {
                1
            }
        }
        Err(unknown) => {
            for u in unknown {
                eprintln!("error: {u} (not in {})", rules_path.display());
            }
            2
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: &str = "# comment\n\nA-1-X  first rule\nB-2.1-Y  second\nC-3-Z  timers [not testable: days long]\n";

    #[test]
    fn rules_parse_with_marks_and_errors() {
        let r = parse_rules(RULES).unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(r[2].not_testable.as_deref(), Some("days long"));
        assert!(parse_rules("A-1-X one\nA-1-X two\n")
            .unwrap_err()
            .contains("line 2: rule A-1-X is defined twice (first on line 1)"));
        assert!(parse_rules("a-1 text\n")
            .unwrap_err()
            .starts_with("line 1: bad rule ID"));
        assert!(parse_rules("A-1\n").unwrap_err().contains("has no text"));
        assert!(parse_rules("A-1 x [not testable: y\n")
            .unwrap_err()
            .contains("unclosed"));
    }

    #[test]
    fn coverage_counts_and_rejects_unknown_ids() {
        let rules = parse_rules(RULES).unwrap();
        let scripts = vec![("s/one".to_string(), vec!["A-1-X".to_string()])];
        let cov = cover(&rules, &scripts, &[("A-1-X", STRICT)]).unwrap();
        assert_eq!(cov.counts(), (1, 1, 1));
        let report = cov.report();
        assert!(
            report.contains("A-1-X    s/one, strict check (every packet)\n"),
            "{report}"
        );
        assert!(report.contains("B-2.1-Y  UNCOVERED\n"), "{report}");
        assert!(
            report.contains("C-3-Z    not testable: days long\n"),
            "{report}"
        );
        assert!(report.ends_with("coverage: 3 rules, 1 covered, 1 uncovered, 1 not testable\n"));
        let bad = vec![("s/two".to_string(), vec!["A-1-XX".to_string()])];
        assert_eq!(
            cover(&rules, &bad, &[]).unwrap_err(),
            ["script s/two names unknown rule A-1-XX"]
        );
    }
}
