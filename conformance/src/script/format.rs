//! Packet scripts: a line-oriented text format a protocol tester can read
//! and write without Rust, and that a program can generate.
//!
//! ```text
//! # Registering a free unique name is granted.
//! title  registration of a free unique name
//! tags   registration unique
//! set    N = {run}REG
//! send   op=register name={N}<00> from=client1
//! expect rcode=OK op=register addrs={client1} ttl=1..
//! send   op=query name={N}<00>
//! expect rcode=OK addrs={client1}
//! ```
//!
//! Each line is a directive and `key=value` fields; values may be quoted
//! ("a b") and may use `{variables}`. Parsing checks directives and field
//! names; [`Script::instantiate`] substitutes the variables of a run and
//! checks every value, so all script errors surface with file, line and
//! column before a single packet is sent.

use std::fmt;
use std::path::{Path, PathBuf};

/// A script error with its position: `file:line:column: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptError {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )
    }
}

impl std::error::Error for ScriptError {}

pub const SEND_FIELDS: &[&str] = &[
    "from",
    "to",
    "op",
    "id",
    "rcode",
    "response",
    "aa",
    "tc",
    "rd",
    "ra",
    "b",
    "flags",
    "name",
    "qtype",
    "ttl",
    "group",
    "ont",
    "addr",
    "no-question",
    "no-record",
    "section",
    "raw",
    "compress",
];

pub const EXPECT_FIELDS: &[&str] = &[
    "to",
    "wack",
    "timeout",
    "rcode",
    "op",
    "response",
    "aa",
    "tc",
    "rd",
    "ra",
    "b",
    "name",
    "type",
    "addrs",
    "has-addr",
    "lacks-addr",
    "first-addr",
    "ttl",
    "entries",
    "group",
    "ont",
    "any-id",
    "wack-only",
    "id",
];

/// Fields of `await` (client role: a request from the client under test).
pub const AWAIT_FIELDS: &[&str] = &[
    "at", "from", "op", "name", "b", "rd", "group", "ont", "ttl", "addrs", "has-addr", "entries",
    "count", "interval", "timeout", "optional",
];

/// Fields of `replica` (server role: a record the runner pushes as a replication partner).
pub const REPLICA_FIELDS: &[&str] = &[
    "name",
    "owner",
    "from",
    "kind",
    "state",
    "addrs",
    "owners",
    "static",
    "background",
    "target-owner",
];

/// A parsed script: directives with their raw (unsubstituted) fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    pub path: PathBuf,
    /// Script name used in reports: the path relative to the library root, without `.nbt`.
    pub name: String,
    pub title: String,
    pub tags: Vec<String>,
    /// The rule IDs of `conformance/rules.txt` the script checks (`refs` lines), in order.
    pub refs: Vec<String>,
    /// The target settings its expectations assume (`settings` line).
    pub settings: TargetSettings,
    pub lines: Vec<Line>,
}

/// Server settings a script's expectations assume, where WINS servers differ by
/// configuration (`settings migrate-on=no`). The embedded reference target runs such a
/// script with these settings; any other target is judged as it is configured (its
/// expectations file says where it differs). The default is the embedded target's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct TargetSettings {
    /// `migrate-on=no`: MigrateOn off (the Windows registry setting): a dynamic registration
    /// never challenges or replaces a static record, it is refused.
    pub migrate_off: bool,
}

impl TargetSettings {
    pub fn is_default(&self) -> bool {
        *self == TargetSettings::default()
    }
}

impl fmt::Display for TargetSettings {
    /// The fields of a `settings` line (empty for the default).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.migrate_off {
            f.write_str("migrate-on=no")?;
        }
        Ok(())
    }
}

/// One directive line.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub line: usize,
    pub directive: Directive,
    pub fields: Vec<Field>,
}

/// A `key=value` field, or a bare word (`key` with no value).
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub key: String,
    pub value: Option<String>,
    /// 1-based column of the key, for error messages.
    pub column: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Directive {
    Title,
    Tags,
    /// `refs RULE-ID...`: the rules of `conformance/rules.txt` the script checks.
    Refs,
    /// `settings migrate-on=yes|no`: see [`TargetSettings`].
    Settings,
    /// `set VAR = VALUE`
    Set,
    /// Per-script limits: `limit time=20s`.
    Limit,
    Send,
    Expect,
    /// `expect-none [to=CLIENT] within=DURATION`
    ExpectNone,
    /// `challenge to=CLIENT name=NAME reply=claim|release|silent`
    Challenge,
    Wait,
    /// Client role: `client start [nics=client1,client2] [wins=server1,server2]` or `client stop`.
    Client,
    /// Client role: wait for a request from the client under test.
    Await,
    /// Client role: no matching request arrives.
    AwaitNone,
    /// Client role: answer the request last awaited.
    Answer,
    /// Server role: `replica name=NAME owner=partnerN kind=... state=... addrs=...`: the
    /// runner, as the target's WINS replication partner, pushes this record (MS-WINSRA).
    Replica,
}

impl Directive {
    pub const ALL: [(&'static str, Directive); 16] = [
        ("title", Directive::Title),
        ("tags", Directive::Tags),
        ("refs", Directive::Refs),
        ("settings", Directive::Settings),
        ("set", Directive::Set),
        ("limit", Directive::Limit),
        ("send", Directive::Send),
        ("expect", Directive::Expect),
        ("expect-none", Directive::ExpectNone),
        ("challenge", Directive::Challenge),
        ("wait", Directive::Wait),
        ("client", Directive::Client),
        ("await", Directive::Await),
        ("await-none", Directive::AwaitNone),
        ("answer", Directive::Answer),
        ("replica", Directive::Replica),
    ];

    pub fn keyword(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, d)| *d == self)
            .map_or("?", |(k, _)| k)
    }

    /// The field names a directive accepts (bare words included).
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            Directive::Title | Directive::Tags | Directive::Refs | Directive::Set => &[],
            Directive::Settings => &["migrate-on"],
            Directive::Limit => &["time", "retries"],
            Directive::Send => SEND_FIELDS,
            Directive::Expect => EXPECT_FIELDS,
            Directive::ExpectNone => &["to", "within", "name"],
            Directive::Challenge => &[
                "to", "name", "reply", "timeout", "ttl", "addr", "optional", "after", "stray",
            ],
            Directive::Wait => &["for"],
            Directive::Client => &["start", "stop", "nics", "wins"],
            Directive::Await => AWAIT_FIELDS,
            Directive::AwaitNone => &["at", "from", "op", "name", "within", "since"],
            Directive::Answer => &["rcode", "ttl", "addrs", "op", "from", "wack", "group"],
            Directive::Replica => REPLICA_FIELDS,
        }
    }
}

impl fmt::Display for Directive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keyword())
    }
}

impl Script {
    /// The tag of scripts that can take a faulty target down: they run after all the
    /// others, one at a time.
    pub const DISRUPTIVE: &'static str = "disruptive";

    pub fn is_disruptive(&self) -> bool {
        self.tags.iter().any(|t| t == Self::DISRUPTIVE)
    }

    /// Reads and parses a script file.
    pub fn load(path: &Path, name: String) -> Result<Script, ScriptError> {
        let text = std::fs::read_to_string(path).map_err(|e| ScriptError {
            file: path.to_path_buf(),
            line: 0,
            column: 0,
            message: format!("cannot read: {e}"),
        })?;
        Script::parse(path, name, &text)
    }

    /// Parses script text; `path` is used in error messages only.
    pub fn parse(path: &Path, name: String, text: &str) -> Result<Script, ScriptError> {
        let err = |line: usize, column: usize, message: String| ScriptError {
            file: path.to_path_buf(),
            line,
            column,
            message,
        };
        let mut script = Script {
            path: path.to_path_buf(),
            name,
            title: String::new(),
            tags: Vec::new(),
            refs: Vec::new(),
            settings: TargetSettings::default(),
            lines: Vec::new(),
        };
        for (i, raw) in text.lines().enumerate() {
            let lineno = i + 1;
            let content = strip_comment(raw);
            let trimmed = content.trim_start();
            if trimmed.is_empty() {
                continue;
            }
            let indent = content.len() - trimmed.len();
            let (word, rest) = trimmed
                .split_once(char::is_whitespace)
                .unwrap_or((trimmed, ""));
            let directive = Directive::ALL
                .iter()
                .find(|(k, _)| *k == word)
                .map(|(_, d)| *d)
                .ok_or_else(|| {
                    err(
                        lineno,
                        indent + 1,
                        format!(
                            "unknown directive `{word}` (expected one of: {})",
                            Directive::ALL.map(|(k, _)| k).join(", ")
                        ),
                    )
                })?;
            let rest_col = indent + word.len() + 2;
            match directive {
                Directive::Title => {
                    script.title = rest.trim().to_string();
                    continue;
                }
                Directive::Tags => {
                    script
                        .tags
                        .extend(rest.split_whitespace().map(str::to_string));
                    continue;
                }
                Directive::Refs => {
                    let mut any = false;
                    for (offset, id) in words(rest) {
                        check_rule_id(id).map_err(|m| err(lineno, rest_col + offset, m))?;
                        script.refs.push(id.to_string());
                        any = true;
                    }
                    if !any {
                        return Err(err(
                            lineno,
                            rest_col,
                            "`refs` needs one or more rule IDs, like RFC1002-4.2.5-RDATA".into(),
                        ));
                    }
                    continue;
                }
                Directive::Set => {
                    let (var, val) = rest.split_once('=').ok_or_else(|| {
                        err(lineno, rest_col, "expected `set NAME = VALUE`".into())
                    })?;
                    let var = var.trim();
                    if var.is_empty() || !var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    {
                        return Err(err(
                            lineno,
                            rest_col,
                            format!("bad variable name `{var}` (letters, digits and _ only)"),
                        ));
                    }
                    script.lines.push(Line {
                        line: lineno,
                        directive,
                        fields: vec![Field {
                            key: var.to_string(),
                            value: Some(unquote(val.trim())),
                            column: rest_col,
                        }],
                    });
                    continue;
                }
                _ => {}
            }
            let fields =
                split_fields(rest, rest_col).map_err(|(col, msg)| err(lineno, col, msg))?;
            let allowed = directive.fields();
            for f in &fields {
                if !allowed.contains(&f.key.as_str()) {
                    return Err(err(
                        lineno,
                        f.column,
                        format!(
                            "unknown field `{}` for `{directive}` (known: {})",
                            f.key,
                            allowed.join(", ")
                        ),
                    ));
                }
            }
            if directive == Directive::Settings {
                // Only `migrate-on` passes the check above.
                for f in &fields {
                    script.settings.migrate_off = match f.value.as_deref() {
                        Some("yes") => false,
                        Some("no") => true,
                        _ => {
                            let msg = "`migrate-on` takes yes or no".to_string();
                            return Err(err(lineno, f.column, msg));
                        }
                    };
                }
                continue;
            }
            script.lines.push(Line {
                line: lineno,
                directive,
                fields,
            });
        }
        if script.lines.is_empty() {
            return Err(err(1, 1, "script has no steps".into()));
        }
        Ok(script)
    }

    /// Writes the script back as text (scripts are data: programs generate them).
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        if !self.title.is_empty() {
            out.push_str(&format!("title {}\n", self.title));
        }
        if !self.tags.is_empty() {
            out.push_str(&format!("tags {}\n", self.tags.join(" ")));
        }
        if !self.refs.is_empty() {
            out.push_str(&format!("refs {}\n", self.refs.join(" ")));
        }
        if !self.settings.is_default() {
            out.push_str(&format!("settings {}\n", self.settings));
        }
        for l in &self.lines {
            out.push_str(l.directive.keyword());
            if l.directive == Directive::Set {
                let f = &l.fields[0];
                out.push_str(&format!(
                    " {} = {}",
                    f.key,
                    quote(f.value.as_deref().unwrap_or(""))
                ));
            } else {
                for f in &l.fields {
                    out.push(' ');
                    out.push_str(&f.key);
                    if let Some(v) = &f.value {
                        out.push('=');
                        out.push_str(&quote(v));
                    }
                }
            }
            out.push('\n');
        }
        out
    }
}

/// The whitespace-separated words of `s` with their byte offsets.
fn words(s: &str) -> impl Iterator<Item = (usize, &str)> {
    s.split(char::is_whitespace)
        .scan(0, |pos, w| {
            let at = *pos;
            *pos += w.len() + 1;
            Some((at, w))
        })
        .filter(|(_, w)| !w.is_empty())
}

/// Checks the form of a rule ID of `conformance/rules.txt`: a source in capitals
/// (`RFC1002`, `NBTE`, `WINSRA`, `IMPL`, ...), then `-`-separated parts of capitals,
/// digits and dots (`RFC1002-4.2.10-RDATA`). Whether the rule exists is for
/// `nbns-conform coverage` to say.
pub fn check_rule_id(id: &str) -> Result<(), String> {
    let mut parts = id.split('-');
    let source = parts.next().unwrap_or("");
    let source_ok = source.starts_with(|c: char| c.is_ascii_uppercase())
        && source
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    let rest: Vec<&str> = parts.collect();
    let rest_ok = !rest.is_empty()
        && rest.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '.')
        });
    if source_ok && rest_ok {
        Ok(())
    } else {
        Err(format!(
            "bad rule ID `{id}` (expected SOURCE-SECTION-NAME in capitals, digits, dots and dashes, like RFC1002-4.2.10-RDATA)"
        ))
    }
}

/// Drops a `#` comment that is not inside quotes.
fn strip_comment(line: &str) -> &str {
    let mut in_quotes = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => in_quotes = !in_quotes,
            '#' if !in_quotes => return &line[..i],
            _ => {}
        }
    }
    line
}

fn unquote(s: &str) -> String {
    if s.len() >= 2 && s.starts_with('"') && s.ends_with('"') {
        s[1..s.len() - 1].to_string()
    } else {
        s.to_string()
    }
}

fn quote(s: &str) -> String {
    if s.is_empty() || s.contains(|c: char| c.is_whitespace() || c == '#' || c == '"') {
        format!("\"{s}\"")
    } else {
        s.to_string()
    }
}

/// Splits `key=value key2="quoted value" bare` into fields.
fn split_fields(s: &str, col0: usize) -> Result<Vec<Field>, (usize, String)> {
    let mut fields = Vec::new();
    let chars: Vec<(usize, char)> = s.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].1.is_whitespace() {
            i += 1;
            continue;
        }
        let start = chars[i].0;
        let mut key = String::new();
        while i < chars.len() && !chars[i].1.is_whitespace() && chars[i].1 != '=' {
            key.push(chars[i].1);
            i += 1;
        }
        if key.is_empty() {
            return Err((col0 + start, "a field needs a name before `=`".into()));
        }
        let mut value = None;
        if i < chars.len() && chars[i].1 == '=' {
            i += 1;
            // Shell-like: quotes group characters and may stand anywhere in
            // the value ("{N} X"<00>); whitespace outside quotes ends it.
            let mut v = String::new();
            let mut in_quotes = false;
            while i < chars.len() {
                let c = chars[i].1;
                if c == '"' {
                    in_quotes = !in_quotes;
                } else if c.is_whitespace() && !in_quotes {
                    break;
                } else {
                    v.push(c);
                }
                i += 1;
            }
            if in_quotes {
                return Err((col0 + start, format!("unclosed quote in `{key}`")));
            }
            value = Some(v);
        }
        fields.push(Field {
            key,
            value,
            column: col0 + start,
        });
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Script, ScriptError> {
        Script::parse(Path::new("t.nbt"), "t".into(), text)
    }

    #[test]
    fn parses_directives_fields_and_comments() {
        let s = parse(
            "# a comment\ntitle A test\ntags a b\nset N = {run}X\nsend op=query name=\"{N}\"<00> # trailing\nexpect rcode=OK aa\n",
        )
        .unwrap();
        assert_eq!(s.title, "A test");
        assert_eq!(s.tags, ["a", "b"]);
        assert_eq!(s.lines.len(), 3);
        assert_eq!(s.lines[1].directive, Directive::Send);
        assert_eq!(s.lines[1].fields[1].key, "name");
        assert_eq!(s.lines[1].fields[1].value.as_deref(), Some("{N}<00>"));
        assert_eq!(s.lines[2].fields[1].value, None);
        // Text written back parses to the same script.
        let again = parse(&s.to_text()).unwrap();
        let strip = |s: &Script| {
            s.lines
                .iter()
                .map(|l| (l.directive, l.fields.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(strip(&again), strip(&s));
        assert_eq!((again.title, again.tags), (s.title, s.tags));
    }

    #[test]
    fn settings_line_sets_the_target_settings() {
        let s = parse("title T\nsettings  migrate-on=no\nsend op=query name=A<00>\n").unwrap();
        assert!(s.settings.migrate_off);
        assert_eq!(s.lines.len(), 1, "a settings line is no step");
        assert!(s.to_text().contains("settings migrate-on=no\n"));
        let plain = parse("settings migrate-on=yes\nsend op=query name=A<00>\n").unwrap();
        assert!(plain.settings.is_default());
        let e = parse("settings migrate-on=maybe\nsend op=query name=A<00>\n").unwrap_err();
        assert!(
            e.message.contains("`migrate-on` takes yes or no"),
            "{}",
            e.message
        );
        let e = parse("settings wins=off\nsend op=query name=A<00>\n").unwrap_err();
        assert!(e.message.contains("unknown field `wins`"), "{}", e.message);
    }

    #[test]
    fn errors_carry_line_and_column() {
        let e = parse("send op=query\nexpect rcod=OK\n").unwrap_err();
        assert_eq!((e.line, e.column), (2, 8));
        assert!(e.message.contains("unknown field `rcod`"), "{}", e.message);
        let e = parse("\n  sned op=query\n").unwrap_err();
        assert_eq!((e.line, e.column), (2, 3));
        let e = parse("send name=\"abc\n").unwrap_err();
        assert!(e.message.contains("unclosed quote"));
        assert_eq!(e.to_string(), "t.nbt:1:6: unclosed quote in `name`");
    }

    #[test]
    fn refs_are_collected_and_checked() {
        let s = parse(
            "refs RFC1002-4.2.10-RDATA  IMPL-SCOPE-237\nsend op=query name=A<00>\nrefs NBTE-2.2.2-MH-OPCODE-F # why\n",
        )
        .unwrap();
        assert_eq!(
            s.refs,
            [
                "RFC1002-4.2.10-RDATA",
                "IMPL-SCOPE-237",
                "NBTE-2.2.2-MH-OPCODE-F"
            ]
        );
        assert_eq!(s.lines.len(), 1);
        assert_eq!(parse(&s.to_text()).unwrap().refs, s.refs);
        // A bad ID is an error at its column.
        let e = parse("send op=query name=A<00>\nrefs RFC1002-4.2.10-RDATA rfc1002-4.2.10\n")
            .unwrap_err();
        assert_eq!((e.line, e.column), (2, 27));
        assert!(
            e.message.contains("bad rule ID `rfc1002-4.2.10`"),
            "{}",
            e.message
        );
        for bad in [
            "RFC1002",
            "RFC1002--X",
            "RFC1002-4.2-",
            "-X",
            "RFC1002-4.2_X",
            "1RFC-X",
        ] {
            assert!(check_rule_id(bad).is_err(), "{bad}");
        }
        let e = parse("refs\nsend op=query name=A<00>\n").unwrap_err();
        assert!(
            e.message.contains("needs one or more rule IDs"),
            "{}",
            e.message
        );
    }
}
