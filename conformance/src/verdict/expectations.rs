//! A target's known deviations: which scripts fail against it, how, and why.
//!
//! ```text
//! # nmbd, Samba 4.17
//! release/unknown-name
//!     observed: rcode: expected OK, got NAM_ERR
//!     reason:   RFC 1002 4.2.10 lists no error for a name that is not held;
//!               nmbd answers NAM_ERR, the AD DC and Windows answer OK.
//! ```
//!
//! A script name starts at column 0; its indented `observed:` line is a
//! piece of the failure message that must appear in it (several `observed:`
//! lines are alternatives, for a target whose failure varies), and `reason:`
//! (continued on further indented lines) says who is right. A listed script
//! that passes, or fails differently, fails the run: the list stays true. The
//! alternative `observed: (may pass)` lets one pass too, for a target whose answer
//! depends on timing the script cannot control (say so in the reason), and
//! `observed: (timing from line N)` lets it pass or fail at line N or later in any
//! way: from that step on the target's answers depend on timing (a failure before
//! line N, or an error, is still judged).
//!
//! A layout rule the target breaks in many scripts (the strict check's
//! violations) is listed once, for every script:
//!
//! ```text
//! rule RFC1002-4.2.11-FLAGS
//!     observed: rcode NAM_ERR
//!     reason:   nmbd refuses the release of a name it does not hold with
//!               NAM_ERR, a code RFC 1002 4.2.11 does not list.
//! ```
//!
//! `observed:` is optional there (a piece of the violation's text). A listed
//! rule that no packet of a whole-library run broke fails the run.

use super::{Judged, Outcome, Verdict, Violation};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deviation {
    pub script: String,
    pub observed: String,
    pub reason: String,
    pub line: usize,
}

impl Deviation {
    /// Whether `text` shows this deviation: it contains one of the `observed:`
    /// alternatives (or there is none, for a rule entry without one).
    pub fn seen_in(&self, text: &str) -> bool {
        self.observed.is_empty() || self.observed.split('\n').any(|alt| text.contains(alt))
    }

    /// Whether the script may also pass (an `observed: (may pass)` or `(timing from
    /// line N)` alternative).
    pub fn may_pass(&self) -> bool {
        self.timing_from().is_some() || self.observed.split('\n').any(|alt| alt == MAY_PASS)
    }

    /// The line from which the target's answers depend on timing (an `observed: (timing
    /// from line N)` alternative): any failure there or later is as listed.
    pub fn timing_from(&self) -> Option<usize> {
        self.observed.split('\n').find_map(timing_line)
    }
}

/// The `observed:` alternative of a listed script that may also pass.
pub const MAY_PASS: &str = "(may pass)";

/// N of an `observed: (timing from line N)` alternative; None for any other.
fn timing_line(alt: &str) -> Option<usize> {
    alt.strip_prefix("(timing from line ")?
        .strip_suffix(')')?
        .parse()
        .ok()
}

#[derive(Debug, Clone, Default)]
pub struct Expectations {
    pub path: PathBuf,
    pub deviations: BTreeMap<String, Deviation>,
    /// Layout rules the target is known to break, by rule ID (`script` holds the ID).
    pub rules: BTreeMap<String, Deviation>,
}

impl Expectations {
    pub fn load(path: &Path) -> Result<Expectations, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        Self::parse(path, &text)
    }

    /// [`load`](Self::load) when a path is given.
    pub fn load_opt(path: Option<&Path>) -> Result<Option<Expectations>, String> {
        path.map(Self::load).transpose()
    }

    pub fn parse(path: &Path, text: &str) -> Result<Expectations, String> {
        let err = |line: usize, m: &str| format!("{}:{line}: {m}", path.display());
        let mut out = Expectations {
            path: path.to_path_buf(),
            deviations: BTreeMap::new(),
            rules: BTreeMap::new(),
        };
        let mut current: Option<Deviation> = None;
        let mut in_reason = false;
        let finish = |d: Option<Deviation>, out: &mut Expectations| -> Result<(), String> {
            if let Some(mut d) = d {
                if let Some(rule) = d.script.strip_prefix("rule ") {
                    let rule = rule.trim().to_string();
                    if d.reason.is_empty() {
                        return Err(err(d.line, &format!("rule `{rule}` needs a reason:")));
                    }
                    if out.rules.contains_key(&rule) {
                        return Err(err(d.line, &format!("rule `{rule}` is listed twice")));
                    }
                    d.script = rule.clone();
                    out.rules.insert(rule, d);
                    return Ok(());
                }
                if d.observed.is_empty() || d.reason.is_empty() {
                    return Err(err(
                        d.line,
                        &format!("`{}` needs both observed: and reason:", d.script),
                    ));
                }
                if out.deviations.contains_key(&d.script) {
                    return Err(err(d.line, &format!("`{}` is listed twice", d.script)));
                }
                out.deviations.insert(d.script.clone(), d);
            }
            Ok(())
        };
        for (i, raw) in text.lines().enumerate() {
            let n = i + 1;
            if raw.trim().is_empty() || raw.trim_start().starts_with('#') {
                continue;
            }
            if !raw.starts_with(char::is_whitespace) {
                finish(current.take(), &mut out)?;
                current = Some(Deviation {
                    script: raw.trim().to_string(),
                    observed: String::new(),
                    reason: String::new(),
                    line: n,
                });
                in_reason = false;
                continue;
            }
            let Some(d) = current.as_mut() else {
                return Err(err(n, "an indented line must follow a script name"));
            };
            let line = raw.trim();
            if let Some(v) = line.strip_prefix("observed:") {
                if v.trim().starts_with("(timing") && timing_line(v.trim()).is_none() {
                    return Err(err(n, "expected `observed: (timing from line N)`"));
                }
                // Alternatives are kept one a line (see `Deviation::seen_in`).
                if !d.observed.is_empty() {
                    d.observed.push('\n');
                }
                d.observed.push_str(v.trim());
                in_reason = false;
            } else if let Some(v) = line.strip_prefix("reason:") {
                d.reason = v.trim().to_string();
                in_reason = true;
            } else if in_reason {
                d.reason.push(' ');
                d.reason.push_str(line);
            } else {
                return Err(err(n, "expected `observed:` or `reason:`"));
            }
        }
        finish(current.take(), &mut out)?;
        Ok(out)
    }

    /// Marks each outcome the list names. Returns the listed scripts that
    /// are not among the outcomes.
    pub fn judge(&self, outcomes: &mut [Outcome]) -> Vec<&Deviation> {
        for o in outcomes.iter_mut() {
            self.judge_one(o);
        }
        self.deviations
            .values()
            .filter(|d| !outcomes.iter().any(|o| o.name == d.script))
            .collect()
    }

    /// The listed rule entry that covers `v`, if any.
    fn rule_for(&self, v: &Violation) -> Option<&Deviation> {
        self.rules.get(v.rule).filter(|d| d.seen_in(&v.to_string()))
    }

    /// Listed rules that no outcome's violations showed.
    pub fn unseen_rules(&self, outcomes: &[Outcome]) -> Vec<&Deviation> {
        self.rules
            .values()
            .filter(|d| {
                !outcomes
                    .iter()
                    .flat_map(|o| &o.violations)
                    .any(|v| v.rule == d.script && d.seen_in(&v.to_string()))
            })
            .collect()
    }

    /// Marks one outcome, if the list names it or all of its violations.
    pub fn judge_one(&self, o: &mut Outcome) {
        let unlisted = o.violations.iter().find(|v| self.rule_for(v).is_none());
        let Some(d) = self.deviations.get(&o.name) else {
            if let (Verdict::Violation(_), None) = (&o.verdict, unlisted) {
                let mut reasons: Vec<&str> = o
                    .violations
                    .iter()
                    .filter_map(|v| self.rule_for(v))
                    .map(|d| d.reason.as_str())
                    .collect();
                reasons.dedup();
                o.known = Some(Judged::AsListed {
                    reason: reasons.join(" / "),
                });
            }
            return;
        };
        if let (Some(v), false) = (unlisted, matches!(o.verdict, Verdict::Violation(_))) {
            // A listed failure that also breaks a layout rule nobody listed.
            o.known = Some(Judged::Changed {
                observed: format!("violates {v}"),
            });
            return;
        }
        o.known = Some(match &o.verdict {
            Verdict::Pass if d.may_pass() => Judged::AsListed {
                reason: d.reason.clone(),
            },
            Verdict::Pass => Judged::NowPasses,
            Verdict::Violation(v) => {
                let text = format!("violates {v} | {}", v.packet);
                if d.seen_in(&text) {
                    Judged::AsListed {
                        reason: d.reason.clone(),
                    }
                } else {
                    Judged::Changed {
                        observed: format!("violates {v}"),
                    }
                }
            }
            Verdict::Fail(f) => {
                let text = format!("{} | {}", f.mismatch, f.got);
                if d.seen_in(&text) || d.timing_from().is_some_and(|from| f.line >= from) {
                    Judged::AsListed {
                        reason: d.reason.clone(),
                    }
                } else {
                    Judged::Changed {
                        observed: f.mismatch.clone(),
                    }
                }
            }
            Verdict::Error(e) | Verdict::Skipped(e) => {
                if d.seen_in(e) {
                    Judged::AsListed {
                        reason: d.reason.clone(),
                    }
                } else {
                    Judged::Changed {
                        observed: e.clone(),
                    }
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::Failure;
    use std::time::Duration;

    fn outcome(name: &str, verdict: Verdict) -> Outcome {
        Outcome {
            name: name.into(),
            title: String::new(),
            verdict,
            duration: Duration::ZERO,
            known: None,
            violations: Vec::new(),
        }
    }

    fn fail(m: &str) -> Verdict {
        fail_at(1, m)
    }

    fn fail_at(line: usize, m: &str) -> Verdict {
        Verdict::Fail(Failure {
            line,
            mismatch: m.into(),
            expected: String::new(),
            got: String::new(),
        })
    }

    #[test]
    fn listed_failures_pass_and_the_list_is_a_ratchet() {
        let e = Expectations::parse(
            Path::new("x.expect"),
            "# c\na/one\n    observed: got NAM_ERR\n    reason: because\n      it is so\nb/two\n  observed: x\n  reason: y\nc/gone\n  observed: z\n  reason: w\n",
        )
        .unwrap();
        assert_eq!(e.deviations["a/one"].reason, "because it is so");
        let mut outs = vec![
            outcome("a/one", fail("rcode: expected OK, got NAM_ERR")),
            outcome("b/two", Verdict::Pass),
            outcome("d/new", fail("boom")),
        ];
        let missing = e.judge(&mut outs);
        assert!(!outs[0].counts_as_failure());
        assert_eq!(outs[1].known, Some(Judged::NowPasses));
        assert!(outs[1].counts_as_failure());
        assert!(outs[2].counts_as_failure());
        assert_eq!(missing.len(), 1);
        assert_eq!(missing[0].script, "c/gone");
        outs[0].verdict = fail("rcode: expected OK, got ACT_ERR");
        e.judge(&mut outs);
        assert!(matches!(outs[0].known, Some(Judged::Changed { .. })));
    }

    /// Several `observed:` lines: any one of them matches, nothing else does.
    #[test]
    fn observed_alternatives() {
        let e = Expectations::parse(
            Path::new("x.expect"),
            "a/one\n    observed: no reply within\n    observed: got NAM_ERR\n    reason: r\n",
        )
        .unwrap();
        for (m, listed) in [
            ("line 9: no reply within 3s", true),
            ("rcode: expected OK, got NAM_ERR", true),
            ("rcode: expected OK, got ACT_ERR", false),
        ] {
            let mut o = outcome("a/one", fail(m));
            e.judge_one(&mut o);
            assert_eq!(!o.counts_as_failure(), listed, "{m}");
        }
    }

    #[test]
    fn a_listed_script_passes_only_where_it_may() {
        let e = Expectations::parse(
            Path::new("x.expect"),
            "a/racy\n    observed: got ACT_ERR\n    observed: (may pass)\n    reason: timing\nb/firm\n    observed: got ACT_ERR\n    reason: r\n",
        )
        .unwrap();
        for (name, verdict, failure) in [
            ("a/racy", Verdict::Pass, false),
            ("a/racy", fail("rcode: expected OK, got ACT_ERR"), false),
            ("a/racy", fail("no reply within 3s"), true),
            ("b/firm", Verdict::Pass, true),
        ] {
            let mut o = outcome(name, verdict);
            e.judge_one(&mut o);
            assert_eq!(o.counts_as_failure(), failure, "{name} {:?}", o.known);
        }
    }

    #[test]
    fn a_timing_entry_judges_only_what_comes_before_its_line() {
        let e = Expectations::parse(
            Path::new("x.expect"),
            "a/race\n    observed: (timing from line 20)\n    reason: timing\n",
        )
        .unwrap();
        let fail_at = |line| fail_at(line, "rcode: expected OK, got ACT_ERR");
        for (verdict, failure) in [
            (Verdict::Pass, false),
            (fail_at(20), false),
            (fail_at(25), false),
            (fail_at(19), true),
            (Verdict::Error("line 21: cannot send".into()), true),
        ] {
            let mut o = outcome("a/race", verdict);
            e.judge_one(&mut o);
            assert_eq!(o.counts_as_failure(), failure, "{:?}", o.known);
        }
        let bad = Expectations::parse(
            Path::new("x"),
            "a\n    observed: (timing from 20)\n    reason: r\n",
        )
        .unwrap_err();
        assert!(bad.contains("x:2:"), "{bad}");
    }

    #[test]
    fn a_listed_rule_covers_its_violations_everywhere_and_is_a_ratchet_too() {
        let e = Expectations::parse(
            Path::new("x.expect"),
            "rule RFC1002-4.2.11-FLAGS\n    observed: NAM_ERR\n    reason: nmbd says NAM_ERR\nrule RFC1002-4.2.14-NULL-RR\n    reason: never seen\n",
        )
        .unwrap();
        let violation = |rule: &'static str, detail: &str| Violation {
            rule,
            detail: detail.into(),
            packet: String::new(),
        };
        let listed = violation(
            "RFC1002-4.2.11-FLAGS",
            "rcode NAM_ERR is not one the RFC allows",
        );
        let mut outs = vec![
            outcome("a", Verdict::Violation(listed.clone())),
            outcome(
                "b",
                Verdict::Violation(violation("RFC1002-4.2.5-RDATA", "x")),
            ),
            outcome("c", fail("rcode: expected OK, got NAM_ERR")),
        ];
        outs[0].violations = vec![listed.clone()];
        outs[1].violations = vec![violation("RFC1002-4.2.5-RDATA", "x")];
        outs[2].violations = vec![listed];
        e.judge(&mut outs);
        assert!(
            matches!(&outs[0].known, Some(Judged::AsListed { reason }) if reason == "nmbd says NAM_ERR")
        );
        assert!(outs[1].counts_as_failure());
        // A plain failure is not excused by a rule entry.
        assert!(outs[2].counts_as_failure());
        let unseen: Vec<&str> = e
            .unseen_rules(&outs)
            .iter()
            .map(|d| d.script.as_str())
            .collect();
        assert_eq!(unseen, ["RFC1002-4.2.14-NULL-RR"]);
    }

    #[test]
    fn incomplete_entries_are_errors() {
        let e = Expectations::parse(Path::new("x"), "a\n  observed: q\n").unwrap_err();
        assert!(e.contains("needs both"), "{e}");
        let e = Expectations::parse(Path::new("x"), "  observed: q\n").unwrap_err();
        assert!(e.contains("x:1:"), "{e}");
    }
}
