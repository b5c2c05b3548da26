//! Reports of a run: one line a script for people, JUnit XML and JSON for CI.

use super::expectations::Expectations;
use super::Verdict;
use super::{Judged, Outcome};
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

/// Counts for the summary line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    /// Failures the expectations file lists (included in none of the above).
    pub known: usize,
}

impl Summary {
    pub fn of(outcomes: &[Outcome]) -> Summary {
        let mut s = Summary::default();
        for o in outcomes {
            if o.counts_as_failure() {
                s.failed += 1;
            } else if matches!(o.verdict, Verdict::Pass) {
                // A listed script that may pass (by timing) and did is a pass.
                s.passed += 1;
            } else if matches!(o.known, Some(Judged::AsListed { .. })) {
                s.known += 1;
            } else if matches!(o.verdict, Verdict::Skipped(_)) {
                s.skipped += 1;
            } else {
                s.passed += 1;
            }
        }
        s
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} passed, {} failed, {} skipped",
            self.passed, self.failed, self.skipped
        )?;
        if self.known > 0 {
            write!(f, " ({} known deviations)", self.known)?;
        }
        Ok(())
    }
}

/// The one-line (or, for failures, few-line) report of a script.
pub fn line(o: &Outcome) -> String {
    let ms = o.duration.as_millis();
    let mut s = match (&o.verdict, &o.known) {
        (_, Some(Judged::NowPasses)) => format!(
            "FAIL  {} ({ms} ms): listed as a known deviation but now passes: remove it from the expectations file",
            o.name
        ),
        (Verdict::Fail(f), Some(Judged::AsListed { .. })) => {
            format!("known {} ({ms} ms): line {}: {}", o.name, f.line, f.mismatch)
        }
        (Verdict::Violation(v), Some(Judged::AsListed { .. })) => {
            format!("known {} ({ms} ms): violates {v}", o.name)
        }
        (Verdict::Pass, Some(Judged::AsListed { .. })) => {
            format!("pass  {} ({ms} ms) (listed: its answers depend on timing)", o.name)
        }
        (_, Some(Judged::AsListed { .. })) => format!("known {} ({ms} ms)", o.name),
        (Verdict::Pass, _) => format!("pass  {} ({ms} ms)", o.name),
        (Verdict::Fail(f), _) => {
            let mut s = format!("FAIL  {} ({ms} ms): line {}: {}", o.name, f.line, f.mismatch);
            let _ = write!(s, "\n      expected: {}", f.expected);
            for (i, l) in f.got.lines().enumerate() {
                let _ = write!(s, "\n      {} {l}", if i == 0 { "got:     " } else { "         " });
            }
            s
        }
        (Verdict::Violation(v), _) => {
            let mut s = format!("VIOLATION {} ({ms} ms): {v}", o.name);
            for (i, l) in v.packet.lines().enumerate() {
                let _ = write!(s, "\n      {} {l}", if i == 0 { "got:     " } else { "         " });
            }
            if o.violations.len() > 1 {
                let _ = write!(s, "\n      and {} more:", o.violations.len() - 1);
                for more in &o.violations[1..] {
                    let _ = write!(s, "\n        {more}");
                }
            }
            s
        }
        (Verdict::Error(e), _) => format!("ERROR {} ({ms} ms): {e}", o.name),
        (Verdict::Skipped(r), _) => format!("skip  {}: {r}", o.name),
    };
    if let Some(Judged::Changed { observed }) = &o.known {
        let _ = write!(
            s,
            "\n      listed as a known deviation, but it now fails differently: {observed}"
        );
    }
    s
}

/// Control characters other than newline, carriage return and tab made
/// visible as `\xNN`: XML 1.0 cannot carry them even escaped, and quick-junit
/// would drop them silently.
fn visible(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML (written by quick-junit): one test suite (the target), one test
/// case a script; a known deviation is a skipped case whose message gives
/// the reason.
pub fn junit(suite_name: &str, outcomes: &[Outcome]) -> Result<String, String> {
    let total: Duration = outcomes.iter().map(|o| o.duration).sum();
    let mut suite = TestSuite::new(visible(suite_name));
    suite.set_time(total);
    for o in outcomes {
        let (class, name) = o.name.rsplit_once('/').unwrap_or(("", &o.name));
        let status = if o.counts_as_failure() {
            let text = visible(&line(o));
            let first = text.lines().next().unwrap_or_default().to_string();
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_message(first).set_description(text);
            s
        } else if matches!(o.verdict, Verdict::Pass) {
            TestCaseStatus::success()
        } else if let Some(Judged::AsListed { reason }) = &o.known {
            let mut s = TestCaseStatus::skipped();
            s.set_message(format!("known deviation: {}", visible(reason)));
            s
        } else if let Verdict::Skipped(r) = &o.verdict {
            let mut s = TestCaseStatus::skipped();
            s.set_message(visible(r));
            s
        } else {
            TestCaseStatus::success()
        };
        let mut case = TestCase::new(visible(name), status);
        case.set_classname(visible(&format!(
            "{suite_name}.{}",
            class.replace('/', ".")
        )))
        .set_time(o.duration);
        suite.add_test_case(case);
    }
    let mut report = Report::new("nbns-conform");
    report.set_time(total).add_test_suite(suite);
    report.to_string().map_err(|e| e.to_string())
}

/// JSON: the summary and every outcome.
pub fn json(target: &str, outcomes: &[Outcome]) -> serde_json::Value {
    let s = Summary::of(outcomes);
    let scripts: Vec<serde_json::Value> = outcomes
        .iter()
        .map(|o| {
            let mut v = serde_json::json!({
                "script": o.name,
                "title": o.title,
                "verdict": o.verdict.label(),
                "counts_as_failure": o.counts_as_failure(),
                "duration_ms": o.duration.as_millis() as u64,
            });
            match &o.verdict {
                Verdict::Fail(f) => {
                    v["line"] = f.line.into();
                    v["mismatch"] = f.mismatch.clone().into();
                    v["expected"] = f.expected.clone().into();
                    v["got"] = f.got.clone().into();
                }
                Verdict::Violation(x) => {
                    v["rule"] = x.rule.into();
                    v["detail"] = x.detail.clone().into();
                    v["got"] = x.packet.clone().into();
                }
                Verdict::Error(e) | Verdict::Skipped(e) => v["message"] = e.clone().into(),
                Verdict::Pass => {}
            }
            if !o.violations.is_empty() {
                v["violations"] = o
                    .violations
                    .iter()
                    .map(|x| serde_json::json!({"rule": x.rule, "detail": x.detail, "got": x.packet}))
                    .collect::<Vec<_>>()
                    .into();
            }
            match &o.known {
                Some(Judged::AsListed { reason }) => {
                    v["known_deviation"] =
                        serde_json::json!({"judged": "as listed", "reason": reason})
                }
                Some(Judged::NowPasses) => {
                    v["known_deviation"] = serde_json::json!({"judged": "now passes"})
                }
                Some(Judged::Changed { observed }) => {
                    v["known_deviation"] =
                        serde_json::json!({"judged": "fails differently", "observed": observed})
                }
                None => {}
            }
            v
        })
        .collect();
    serde_json::json!({
        "target": target,
        "passed": s.passed,
        "failed": s.failed,
        "skipped": s.skipped,
        "known_deviations": s.known,
        "scripts": scripts,
    })
}

/// The end of a run, the same for every role.
pub struct Finish<'a> {
    /// The target, as reports name it.
    pub label: &'a str,
    pub expectations: Option<&'a Expectations>,
    pub junit: Option<&'a Path>,
    pub json: Option<&'a Path>,
    /// The whole library ran, so a listed script that did not run is stale.
    pub complete: bool,
    pub start: Instant,
}

/// Judges the outcomes against the expectations, writes the reports asked
/// for and prints the summary. Returns the exit status: 0 when nothing
/// failed beyond the expectations, 1 on failures or a stale list, 2 when a
/// report cannot be written.
pub fn finish(f: Finish<'_>, outcomes: &mut [Outcome]) -> i32 {
    let missing = f
        .expectations
        .map(|e| e.judge(outcomes))
        .unwrap_or_default();
    let summary = Summary::of(outcomes);
    let reports = [
        (f.junit, f.junit.map(|_| junit(f.label, outcomes))),
        (f.json, Some(Ok(json(f.label, outcomes).to_string() + "\n"))),
    ];
    for (path, text) in reports {
        if let (Some(p), Some(text)) = (path, text) {
            if let Err(e) = text.and_then(|text| std::fs::write(p, text).map_err(|e| e.to_string()))
            {
                eprintln!("error: cannot write {}: {e}", p.display());
                return 2;
            }
        }
    }
    let unseen = f
        .expectations
        .map(|e| e.unseen_rules(outcomes))
        .unwrap_or_default();
    let stale = f.complete && !(missing.is_empty() && unseen.is_empty());
    for d in missing.iter().filter(|_| stale) {
        println!(
            "FAIL  expectations list `{}` (line {}), which this run does not have",
            d.script, d.line
        );
    }
    for d in unseen.iter().filter(|_| stale) {
        println!(
            "FAIL  expectations list a violation of {} (line {}) that no packet of this run showed: remove it",
            d.script, d.line
        );
    }
    eprintln!("finished in {:.1}s", f.start.elapsed().as_secs_f64());
    println!("{summary}");
    i32::from(summary.failed > 0 || stale)
}
