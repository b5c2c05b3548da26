//! What a run concludes: a verdict per script or case ([`Verdict`], with the
//! [`Failure`] that explains a failed one), an [`Outcome`] that adds the
//! script's name, its time and how the target's expectations file judged
//! it, the [`expectations`] file itself and the [`report`]s.

pub mod expectations;
pub mod report;

pub use crate::strict::Violation;
use std::time::Duration;

/// Where a failing script went wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub line: usize,
    /// The first mismatch in one line, e.g. `rcode: expected OK, got ACT_ERR`.
    pub mismatch: String,
    /// The whole expectation, as the script says it.
    pub expected: String,
    /// The decoded packet that arrived, or what happened instead.
    pub got: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Pass,
    Fail(Failure),
    /// Every expectation held, but a packet of the target broke a layout rule (the first
    /// one; the outcome lists them all).
    Violation(Violation),
    /// The script could not be run (bad script, socket error).
    Error(String),
    Skipped(String),
}

impl Verdict {
    pub fn label(&self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail(_) => "fail",
            Verdict::Violation(_) => "violation",
            Verdict::Error(_) => "error",
            Verdict::Skipped(_) => "skipped",
        }
    }
}

/// One script's result.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub name: String,
    pub title: String,
    pub verdict: Verdict,
    pub duration: Duration,
    /// Set when the target's expectations file lists this script.
    pub known: Option<Judged>,
    /// Every layout rule the target's packets broke in this script, whatever the verdict.
    pub violations: Vec<Violation>,
}

/// How a listed deviation was judged.
#[derive(Debug, Clone, PartialEq)]
pub enum Judged {
    /// Fails as the list says: not counted as a failure.
    AsListed { reason: String },
    /// Listed, but now passes: the list must be updated (counts as a failure).
    NowPasses,
    /// Listed, but fails differently than recorded (counts as a failure).
    Changed { observed: String },
}

impl Outcome {
    /// Whether this outcome makes the run fail.
    pub fn counts_as_failure(&self) -> bool {
        match (&self.verdict, &self.known) {
            (_, Some(Judged::AsListed { .. })) => false,
            (_, Some(_)) => true,
            (Verdict::Fail(_) | Verdict::Violation(_) | Verdict::Error(_), None) => true,
            _ => false,
        }
    }
}
