//! The strict protocol check: every packet a target sends, held against the layout its
//! specification gives for its kind, apart from whatever a script asks of it. A script whose
//! expectations all hold but whose traffic breaks a layout rule gets the verdict
//! `violation`, reported like a failure with the rule it breaks.
//!
//! [`wrepl`] checks WINS replication frames (MS-WINSRA 2.2) on the replication role's
//! connections. [`nbns`] checks NBNS packets (RFC 1002 4.2): a server's answers and requests in the server
//! role, a client's requests and answers in the client role. [`traffic`] pairs what a script
//! sent with what the target sent back and runs the checks over one script's exchange.

pub mod nbns;
pub mod traffic;
pub mod wrepl;

use std::fmt;

/// One broken layout rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The rule's ID in `conformance/rules.txt`.
    pub rule: &'static str,
    /// What was wrong, with the values seen.
    pub detail: String,
    /// The offending packet, decoded (filled in by [`traffic`]).
    pub packet: String,
}

impl Violation {
    pub fn new(rule: &'static str, detail: impl Into<String>) -> Violation {
        Violation {
            rule,
            detail: detail.into(),
            packet: String::new(),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.rule, self.detail)
    }
}

/// The rules the strict check enforces on every packet (for `coverage`).
pub const CHECKED_RULES: &[&str] = &[
    "WINSRA-2.2-FRAME-PARSES",
    "WINSRA-2.2.2-LENGTH",
    "WINSRA-2.2.2-DEST-HANDLE",
    "WINSRA-2.2.4-START-RESPONSE",
    "WINSRA-2.2.5-STOP-FORMAT",
    "WINSRA-2.2.7-MAP-RESPONSE-FORMAT",
    "WINSRA-2.2.10.1-GROUP-BYTE",
    "WINSRA-2.2.10.1-RESERVED-FF",
    "WINSRA-2.2.10.1-FLAGS",
    "RFC1002-4.2.12-REQUEST-LAYOUT",
    "RFC1002-4.2.13-END-NODE-ANSWER",
    "RFC1002-4.2.2-REQUEST-LAYOUT",
    "RFC1002-4.2.4-REQUEST-LAYOUT",
    "RFC1002-4.2.9-REQUEST-LAYOUT",
    "NBTE-2.2.2-MH-RESPONSE-OPCODE",
    "RFC1002-4.2.1-COUNTS-MATCH",
    "RFC1002-4.2.1.1-B-CLEAR-IN-RESPONSE",
    "RFC1002-4.2.1.1-OPCODE-ECHO",
    "RFC1002-4.2.1.1-RD-COPY",
    "RFC1002-4.2.1.1-REQUEST-RCODE-ZERO",
    "RFC1002-4.2.1.1-RESERVED-FLAGS-ZERO",
    "RFC1002-4.2.1.1-RESPONSE-BIT",
    "RFC1002-4.2.1.3-G-OF-NAME",
    "RFC1002-4.2.1.3-NBFLAGS-RESERVED",
    "RFC1002-4.2.1.3-RR-CLASS-IN",
    "RFC1002-4.2.1.3-RR-NAME-ECHO",
    "RFC1002-4.2.10-COUNTS",
    "RFC1002-4.2.10-FLAGS",
    "RFC1002-4.2.10-RDATA",
    "RFC1002-4.2.11-FLAGS",
    "RFC1002-4.2.11-RDATA",
    "RFC1002-4.2.13-COUNTS",
    "RFC1002-4.2.13-ENTRY-PER-ADDR",
    "RFC1002-4.2.13-FLAGS",
    "RFC1002-4.2.14-ANCOUNT-1",
    "RFC1002-4.2.14-FLAGS",
    "RFC1002-4.2.14-NULL-RR",
    "RFC1002-4.2.16-FLAGS",
    "RFC1002-4.2.16-RDATA",
    "RFC1002-4.2.16-RR-TYPE",
    "RFC1002-4.2.18-FLAGS",
    "RFC1002-4.2.18-RR",
    "RFC1002-4.2.18-STATISTICS",
    "RFC1002-4.2.5-COUNTS",
    "RFC1002-4.2.5-FLAGS",
    "RFC1002-4.2.5-RDATA",
    "RFC1002-4.2.6-FLAGS",
    "RFC1002-4.2.6-RDATA",
    "RFC1002-4.2.9-DEMAND-FORMAT",
    "RFC1002-5.1.4-CHALLENGE-QUERY",
    "RFC1002-4.2.1-NO-TRAILING",
    "RFC1002-4.2.1.3-RDLENGTH-EXACT",
    "RFC1002-4.2.1.3-NB-ENTRY-6",
    "RFC1001-14.1-FIRST-LEVEL",
    "RFC1001-14.2-SCOPE-LABELS",
    "RFC1002-4.2.6-NO-NAM-ERR",
    "RFC1002-4.2.7-CHALLENGING-NBNS-RA",
    "RFC1002-4.2.1.2-NO-QUESTION-ECHO",
    "RFC1002-4.2.15-NO-REDIRECT",
    "RFC1002-4.2.16-RR-NAME",
    "RFC1002-4.2.18-NODE-NAMES",
    "RFC1002-4.2.18-ACT-SET",
    "RFC1002-4.2.18-RESERVED-ZERO",
    "RFC1002-4.2.1.1-REQUEST-R-CLEAR",
];

#[cfg(test)]
mod tests {
    /// Every rule the check reports is in the catalogue, so `coverage` and the expectations
    /// files can name it.
    #[test]
    fn checked_rules_are_in_the_catalogue() {
        let catalogue = include_str!("../../rules.txt");
        for rule in super::CHECKED_RULES {
            assert!(
                catalogue
                    .lines()
                    .any(|l| l.split_whitespace().next() == Some(rule)),
                "{rule} is not in conformance/rules.txt"
            );
        }
    }
}
