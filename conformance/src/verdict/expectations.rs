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
//! piece of the failure message that must appear in it, and `reason:`
//! (continued on further indented lines) says who is right. A listed script
//! that passes, or fails differently, fails the run: the list stays true.

use super::Verdict;
use super::{Judged, Outcome};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deviation {
    pub script: String,
    pub observed: String,
    pub reason: String,
    pub line: usize,
}

#[derive(Debug, Clone, Default)]
pub struct Expectations {
    pub path: PathBuf,
    pub deviations: BTreeMap<String, Deviation>,
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
        };
        let mut current: Option<Deviation> = None;
        let mut in_reason = false;
        let finish = |d: Option<Deviation>, out: &mut Expectations| -> Result<(), String> {
            if let Some(d) = d {
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
                d.observed = v.trim().to_string();
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

    /// Marks one outcome, if the list names it.
    pub fn judge_one(&self, o: &mut Outcome) {
        let Some(d) = self.deviations.get(&o.name) else {
            return;
        };
        o.known = Some(match &o.verdict {
            Verdict::Pass => Judged::NowPasses,
            Verdict::Fail(f) => {
                let text = format!("{} | {}", f.mismatch, f.got);
                if text.contains(&d.observed) {
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
                if e.contains(&d.observed) {
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
        }
    }

    fn fail(m: &str) -> Verdict {
        Verdict::Fail(Failure {
            line: 1,
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

    #[test]
    fn incomplete_entries_are_errors() {
        let e = Expectations::parse(Path::new("x"), "a\n  observed: q\n").unwrap_err();
        assert!(e.contains("needs both"), "{e}");
        let e = Expectations::parse(Path::new("x"), "  observed: q\n").unwrap_err();
        assert!(e.contains("x:1:"), "{e}");
    }
}
