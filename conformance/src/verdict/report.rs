//! Reports of a run: one line a script for people, JUnit XML and JSON for CI.

use super::expectations::Expectations;
use super::Verdict;
use super::{Judged, Outcome};
use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

/// Counts for the summary line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    /// Failures the expectations file lists (included in neither of the above).
    pub known: usize,
}

impl Summary {
    pub fn of(outcomes: &[Outcome]) -> Summary {
        let mut s = Summary::default();
        for o in outcomes {
            if o.counts_as_failure() {
                s.failed += 1;
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

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 forbids most control characters even escaped.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML: one test suite (the target), one test case a script.
pub fn junit(suite_name: &str, outcomes: &[Outcome]) -> String {
    let s = Summary::of(outcomes);
    let total: f64 = outcomes.iter().map(|o| o.duration.as_secs_f64()).sum();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"nbns-conform\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" time=\"{total:.3}\">",
        outcomes.len(),
        s.failed,
        s.skipped + s.known
    );
    let _ = writeln!(
        x,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" time=\"{total:.3}\">",
        xml_escape(suite_name),
        outcomes.len(),
        s.failed,
        s.skipped + s.known
    );
    for o in outcomes {
        let (class, name) = o.name.rsplit_once('/').unwrap_or(("", &o.name));
        let _ = write!(
            x,
            "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
            xml_escape(&format!("{suite_name}.{}", class.replace('/', "."))),
            xml_escape(name),
            o.duration.as_secs_f64()
        );
        let body = if o.counts_as_failure() {
            let text = line(o);
            let first = text.lines().next().unwrap_or_default().to_string();
            format!(
                "      <failure message=\"{}\">{}</failure>\n",
                xml_escape(&first),
                xml_escape(&text)
            )
        } else if let Some(Judged::AsListed { reason }) = &o.known {
            format!(
                "      <skipped message=\"known deviation: {}\"/>\n",
                xml_escape(reason)
            )
        } else if let Verdict::Skipped(r) = &o.verdict {
            format!("      <skipped message=\"{}\"/>\n", xml_escape(r))
        } else {
            String::new()
        };
        if body.is_empty() {
            x.push_str("/>\n");
        } else {
            x.push_str(">\n");
            x.push_str(&body);
            x.push_str("    </testcase>\n");
        }
    }
    x.push_str("  </testsuite>\n</testsuites>\n");
    x
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
                Verdict::Error(e) | Verdict::Skipped(e) => v["message"] = e.clone().into(),
                Verdict::Pass => {}
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
        (f.junit, junit(f.label, outcomes)),
        (f.json, json(f.label, outcomes).to_string() + "\n"),
    ];
    for (path, text) in reports {
        if let Some(p) = path {
            if let Err(e) = std::fs::write(p, text) {
                eprintln!("error: cannot write {}: {e}", p.display());
                return 2;
            }
        }
    }
    let stale = f.complete && !missing.is_empty();
    for d in missing.iter().filter(|_| stale) {
        println!(
            "FAIL  expectations list `{}` (line {}), which this run does not have",
            d.script, d.line
        );
    }
    eprintln!("finished in {:.1}s", f.start.elapsed().as_secs_f64());
    println!("{summary}");
    i32::from(summary.failed > 0 || stale)
}
