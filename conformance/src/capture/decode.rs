//! `nbns-conform decode`: prints every NBNS and WINS replication message of
//! captures or hex dumps, the way a dissector would.
//!
//! Inputs are told apart by their first bytes: a pcap or pcapng magic number
//! means a capture; anything else is read as hex text:
//!
//! ```text
//! # a comment; blank lines are skipped
//! 81 2f 01 10 00 01 00 00 00 00 00 00 20 45 ...   one NBNS packet a line
//! nbns: 812f0110...                                 the same, prefixed
//! wrepl: 00 00 00 29 00 00 78 00 ...                a whole WINS replication
//!                                                   frame, length word first
//! ```
//!
//! Hex digits may be separated by spaces, tabs and colons, and `#` starts a
//! comment anywhere on a line. In captures, UDP port 137 on either side is
//! NBNS and TCP port 42 on either side is WINS replication (each direction
//! reassembled by sequence number, then cut into frames); every other frame
//! is skipped and counted.
//!
//! Exit status: 0 when every message decoded, 1 when any did not (each
//! failure is reported and decoding goes on), 2 on a usage error or an input
//! that cannot be read (missing, empty, neither a capture nor hex, a bad hex
//! line, a capture cut short or malformed).

use super::json;
use super::pcap::{self, CaptureReader, FileKind, RawPacket, Transport};
use super::reassembly::{Delivery, FlowKey, Streams};
use nbns_wire::{nbns, wrepl};
use serde_json::{Map, Value};
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Cursor, Read, Write};
use std::net::SocketAddr;

/// Exit status: every message decoded.
pub const EXIT_OK: i32 = 0;
/// Exit status: at least one message did not decode.
pub const EXIT_FAILED: i32 = 1;
/// Exit status: usage error or unreadable input.
pub const EXIT_UNREADABLE: i32 = 2;

/// Open TCP streams kept at once; the oldest is finished past this.
pub const MAX_STREAMS: usize = 4096;

/// Options of the decode subcommand.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// One JSON object a line instead of text blocks.
    pub json: bool,
    /// Files to read; `-` is standard input.
    pub inputs: Vec<String>,
}

/// Counts for the summary line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub decoded: u64,
    pub failed: u64,
    pub skipped: u64,
    pub unreadable: u64,
}

impl Summary {
    pub fn exit_code(&self) -> i32 {
        if self.unreadable > 0 {
            EXIT_UNREADABLE
        } else if self.failed > 0 {
            EXIT_FAILED
        } else {
            EXIT_OK
        }
    }
}

/// Where a message came from.
#[derive(Debug, Clone)]
struct Meta<'a> {
    input: &'a str,
    /// Frame number in a capture, line number in hex input.
    frame: u64,
    hex: bool,
    time: Option<f64>,
    src: Option<SocketAddr>,
    dst: Option<SocketAddr>,
    transport: &'static str,
}

/// The protocol of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Nbns,
    Wrepl,
}

impl Proto {
    fn label(self) -> &'static str {
        match self {
            Proto::Nbns => "NBNS",
            Proto::Wrepl => "WREPL",
        }
    }
    fn key(self) -> &'static str {
        match self {
            Proto::Nbns => "nbns",
            Proto::Wrepl => "wrepl",
        }
    }
}

/// Output sink: text blocks or JSON lines on `w`, summary counts.
pub struct Printer<W: Write> {
    json: bool,
    w: W,
    summary: Summary,
    /// Set once writing fails (a closed pipe): stop printing.
    broken: Option<io::Error>,
}

impl<W: Write> Printer<W> {
    pub fn new(w: W, json: bool) -> Self {
        Printer {
            json,
            w,
            summary: Summary::default(),
            broken: None,
        }
    }

    pub fn summary(&self) -> Summary {
        self.summary
    }

    fn out(&mut self, s: &str) {
        if self.broken.is_none() {
            if let Err(e) = self.w.write_all(s.as_bytes()) {
                self.broken = Some(e);
            }
        }
    }

    fn base(&self, m: &Meta<'_>, proto: Proto, ok: bool) -> Map<String, Value> {
        let mut o = Map::new();
        o.insert("input".into(), m.input.into());
        o.insert("frame".into(), m.frame.into());
        if m.hex {
            o.insert("line".into(), m.frame.into());
        }
        o.insert(
            "time".into(),
            m.time
                .and_then(serde_json::Number::from_f64)
                .map_or(Value::Null, Value::Number),
        );
        o.insert(
            "src".into(),
            m.src.map_or(Value::Null, |a| a.to_string().into()),
        );
        o.insert(
            "dst".into(),
            m.dst.map_or(Value::Null, |a| a.to_string().into()),
        );
        o.insert("transport".into(), m.transport.into());
        o.insert("proto".into(), proto.key().into());
        o.insert("ok".into(), ok.into());
        o
    }

    fn header(&self, m: &Meta<'_>, proto: Proto) -> String {
        let what = if m.hex { "line" } else { "frame" };
        match (m.src, m.dst) {
            (Some(s), Some(d)) => format!(
                "{what} {}  {s} -> {d}  {}  {}\n",
                m.frame,
                m.transport,
                proto.label()
            ),
            _ => format!("{what} {}  {}\n", m.frame, proto.label()),
        }
    }

    fn ok(&mut self, m: &Meta<'_>, proto: Proto, fields: Map<String, Value>, text: String) {
        self.summary.decoded += 1;
        if self.json {
            let mut o = self.base(m, proto, true);
            o.extend(fields);
            let line = Value::Object(o).to_string();
            self.out(&line);
            self.out("\n");
        } else {
            let mut s = self.header(m, proto);
            s.push_str(&text);
            if !s.ends_with('\n') {
                s.push('\n');
            }
            s.push('\n');
            self.out(&s);
        }
    }

    /// A message (or stream) that did not decode. `bytes` are the message's
    /// bytes for the hex dump (may be empty), `offset` is within them.
    fn fail(&mut self, m: &Meta<'_>, proto: Proto, bytes: &[u8], offset: usize, reason: &str) {
        self.summary.failed += 1;
        if self.json {
            let mut o = self.base(m, proto, false);
            o.insert(
                "error".into(),
                serde_json::json!({"offset": offset, "reason": reason}),
            );
            o.insert("length".into(), bytes.len().into());
            o.insert(
                "hex".into(),
                bytes
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
                    .into(),
            );
            let line = Value::Object(o).to_string();
            self.out(&line);
            self.out("\n");
        } else {
            let what = if m.hex { "line" } else { "frame" };
            let mut s = format!("{what} {} offset {offset}: {reason}\n", m.frame);
            let head = self.header(m, proto);
            s.push_str("  ");
            s.push_str(&head);
            s.push_str(&hex_dump(bytes, offset));
            s.push('\n');
            self.out(&s);
        }
    }

    /// Decodes one NBNS message.
    fn nbns(&mut self, m: &Meta<'_>, bytes: &[u8], cut: bool) {
        match nbns::Repr::parse_bytes(bytes) {
            Ok(r) => {
                let mut f = Map::new();
                if self.json {
                    json::nbns_fields(&mut f, &r);
                }
                let text = if self.json {
                    String::new()
                } else {
                    r.to_string()
                };
                self.ok(m, Proto::Nbns, f, text);
            }
            Err(e) => {
                let mut reason = e.kind.to_string();
                if cut {
                    reason.push_str(" (the capture cut this datagram short: snaplen)");
                }
                self.fail(m, Proto::Nbns, bytes, e.offset, &reason);
            }
        }
    }

    /// Decodes one WINS replication frame (length word included).
    fn wrepl(&mut self, m: &Meta<'_>, frame: &[u8]) {
        match wrepl::Repr::parse_bytes(frame, wrepl::ParseOptions::default()) {
            Ok(r) => {
                let mut f = Map::new();
                if self.json {
                    json::wrepl_fields(&mut f, &r);
                }
                let text = if self.json {
                    String::new()
                } else {
                    r.to_string()
                };
                self.ok(m, Proto::Wrepl, f, text);
            }
            Err(e) => self.fail(m, Proto::Wrepl, frame, e.offset, &e.kind.to_string()),
        }
    }

    /// An input that cannot be read (further).
    fn unreadable(&mut self, input: &str, why: &str) {
        self.summary.unreadable += 1;
        let _ = self.w.flush();
        eprintln!("nbns-conform decode: {input}: {why}");
    }

    pub fn flush(&mut self) -> io::Result<()> {
        if let Some(e) = self.broken.take() {
            return Err(e);
        }
        self.w.flush()
    }
}

/// Rows of 16 bytes around `offset`, with a caret under the byte there.
pub fn hex_dump(bytes: &[u8], offset: usize) -> String {
    let mut s = String::new();
    if bytes.is_empty() {
        return s;
    }
    let first = (offset.min(bytes.len()) / 16).saturating_sub(2) * 16;
    let last = (offset / 16 + 2) * 16;
    let mut row = first;
    while row < bytes.len() && row < last {
        let chunk = &bytes[row..bytes.len().min(row + 16)];
        let _ = write!(s, "    {row:04x}  ");
        for i in 0..16 {
            match chunk.get(i) {
                Some(b) => {
                    let _ = write!(s, "{b:02x} ");
                }
                None => s.push_str("   "),
            }
            if i == 7 {
                s.push(' ');
            }
        }
        s.push(' ');
        for &b in chunk {
            s.push(if (0x20..0x7f).contains(&b) {
                b as char
            } else {
                '.'
            });
        }
        s.push('\n');
        if (row..row + 16).contains(&offset) {
            let col = offset - row;
            let pad = 10 + col * 3 + usize::from(col > 7);
            let _ = writeln!(s, "{}^^ offset {offset}", " ".repeat(pad));
        }
        row += 16;
    }
    if offset >= bytes.len() {
        let _ = writeln!(
            s,
            "    (offset {offset} is at or past the end: {} bytes)",
            bytes.len()
        );
    }
    s
}

/// A hex line's protocol and bytes, or `None` for a blank or comment line.
pub type HexLine = Option<(Proto, Vec<u8>)>;

/// Parses one line of hex input. `Ok(None)` for a blank or comment line;
/// `Err` says what is wrong and at which column (1-based).
pub fn parse_hex_line(line: &str) -> Result<HexLine, (usize, String)> {
    let body = match line.find('#') {
        Some(i) => &line[..i],
        None => line,
    };
    let trimmed = body.trim_start();
    let lead = body.len() - trimmed.len();
    if trimmed.trim().is_empty() {
        return Ok(None);
    }
    let (proto, rest, rest_at) = if let Some(r) = trimmed.strip_prefix("wrepl:") {
        (Proto::Wrepl, r, lead + 6)
    } else if let Some(r) = trimmed.strip_prefix("nbns:") {
        (Proto::Nbns, r, lead + 5)
    } else {
        (Proto::Nbns, trimmed, lead)
    };
    let mut out = Vec::new();
    let mut hi: Option<(u8, usize)> = None;
    for (i, c) in rest.char_indices() {
        let col = rest_at + i + 1;
        if c == ' ' || c == '\t' || c == ':' || c == '\r' {
            if let Some((_, at)) = hi {
                return Err((at, "odd number of hex digits in a byte".into()));
            }
            continue;
        }
        let Some(v) = c.to_digit(16) else {
            return Err((col, format!("{c:?} is not a hex digit")));
        };
        match hi.take() {
            None => hi = Some((v as u8, col)),
            Some((h, _)) => out.push(h << 4 | v as u8),
        }
    }
    if let Some((_, at)) = hi {
        return Err((at, "odd number of hex digits".into()));
    }
    if out.is_empty() {
        return Err((rest_at + 1, "prefix without any bytes".into()));
    }
    Ok(Some((proto, out)))
}

/// Per-direction state of a WINS replication stream.
struct WreplStream {
    splitter: wrepl::FrameSplitter,
    /// After a gap or a bad length word the rest of the direction is not decoded.
    lost: bool,
}

impl WreplStream {
    fn new() -> Self {
        WreplStream {
            splitter: wrepl::FrameSplitter::new(),
            lost: false,
        }
    }
}

struct CaptureDecoder<'p, 'i, W: Write> {
    p: &'p mut Printer<W>,
    input: &'i str,
    streams: Streams<WreplStream>,
}

impl<'i, W: Write> CaptureDecoder<'_, 'i, W> {
    fn meta(&self, pkt: &RawPacket, src: SocketAddr, dst: SocketAddr, t: &'static str) -> Meta<'i> {
        Meta {
            input: self.input,
            frame: pkt.number,
            hex: false,
            time: pkt.time,
            src: Some(src),
            dst: Some(dst),
            transport: t,
        }
    }

    fn packet(&mut self, pkt: &RawPacket) {
        let t = match pcap::transport(pkt.linktype, &pkt.data) {
            Ok(t) => t,
            Err(_) => {
                self.p.summary.skipped += 1;
                return;
            }
        };
        match t {
            Transport::Udp {
                src,
                dst,
                payload,
                cut,
            } if src.port() == nbns::PORT || dst.port() == nbns::PORT => {
                let m = self.meta(pkt, src, dst, "UDP");
                self.p.nbns(&m, payload, cut);
            }
            Transport::Tcp(seg)
                if seg.src.port() == wrepl::PORT || seg.dst.port() == wrepl::PORT =>
            {
                let m = self.meta(pkt, seg.src, seg.dst, "TCP");
                let key = FlowKey {
                    src: seg.src,
                    dst: seg.dst,
                };
                let (entry, evicted) = self.streams.get_or_open(key, WreplStream::new);
                let deliveries = if seg.cut {
                    // A segment cut by the snaplen cannot be trusted; leave a hole.
                    entry.0.segment(seg.seq, seg.syn, &[])
                } else {
                    entry.0.segment(seg.seq, seg.syn, seg.payload)
                };
                let ws = &mut entry.1;
                let mut events = Vec::new();
                feed(ws, deliveries, &mut events);
                if seg.fin || seg.rst {
                    if let Some((mut st, mut ws)) = self.streams.close(&key) {
                        let d = st.finish();
                        feed(&mut ws, d, &mut events);
                        end_of_stream(&ws, &mut events);
                    }
                }
                self.report(&m, events);
                if let Some((k, (mut st, mut ws))) = evicted {
                    let mut ev = Vec::new();
                    feed(&mut ws, st.finish(), &mut ev);
                    end_of_stream(&ws, &mut ev);
                    let m2 = Meta {
                        src: Some(k.src),
                        dst: Some(k.dst),
                        ..m.clone()
                    };
                    self.report(&m2, ev);
                }
            }
            Transport::Fragment {
                src,
                dst,
                protocol,
                ports: Some((sp, dp)),
            } if (protocol == 17 && (sp == nbns::PORT || dp == nbns::PORT))
                || (protocol == 6 && (sp == wrepl::PORT || dp == wrepl::PORT)) =>
            {
                let (proto, t) = if protocol == 17 {
                    (Proto::Nbns, "UDP")
                } else {
                    (Proto::Wrepl, "TCP")
                };
                let m = self.meta(pkt, SocketAddr::new(src, sp), SocketAddr::new(dst, dp), t);
                self.p.fail(
                    &m,
                    proto,
                    &[],
                    0,
                    "IP fragment: fragment reassembly is not supported",
                );
            }
            _ => self.p.summary.skipped += 1,
        }
    }

    fn report(&mut self, m: &Meta<'_>, events: Vec<StreamEvent>) {
        for ev in events {
            match ev {
                StreamEvent::Frame(f) => self.p.wrepl(m, &f),
                StreamEvent::Error { offset, reason } => {
                    self.p.fail(m, Proto::Wrepl, &[], offset, &reason)
                }
            }
        }
    }

    /// End of the capture: every stream still open ends here.
    fn finish(&mut self, last: Option<(u64, Option<f64>)>) {
        for (k, (mut st, mut ws)) in self.streams.drain_all() {
            let mut ev = Vec::new();
            feed(&mut ws, st.finish(), &mut ev);
            end_of_stream(&ws, &mut ev);
            let (frame, time) = last.unwrap_or((0, None));
            let m = Meta {
                input: self.input,
                frame,
                hex: false,
                time,
                src: Some(k.src),
                dst: Some(k.dst),
                transport: "TCP",
            };
            self.report(&m, ev);
        }
    }
}

enum StreamEvent {
    Frame(Vec<u8>),
    /// A stream-level failure; `offset` is the TCP stream offset.
    Error {
        offset: usize,
        reason: String,
    },
}

fn feed(ws: &mut WreplStream, deliveries: Vec<Delivery>, events: &mut Vec<StreamEvent>) {
    for d in deliveries {
        if ws.lost {
            return;
        }
        match d {
            Delivery::Data { bytes, .. } => {
                ws.splitter.push(&bytes);
                while let Some(next) = ws.splitter.next_frame() {
                    match next {
                        Ok(f) => events.push(StreamEvent::Frame(f.to_vec())),
                        Err(e) => {
                            events.push(StreamEvent::Error {
                                offset: e.offset,
                                reason: format!(
                                    "{}; the rest of this TCP direction is not decoded",
                                    e.kind
                                ),
                            });
                            ws.lost = true;
                            return;
                        }
                    }
                }
            }
            Delivery::Gap { offset, missing } => {
                events.push(StreamEvent::Error {
                    offset: offset.min(usize::MAX as u64) as usize,
                    reason: format!(
                        "{missing} bytes of the TCP stream were not captured; \
                         the rest of this TCP direction is not decoded"
                    ),
                });
                ws.lost = true;
                return;
            }
        }
    }
}

fn end_of_stream(ws: &WreplStream, events: &mut Vec<StreamEvent>) {
    let left = ws.splitter.buffered();
    if !ws.lost && left > 0 {
        events.push(StreamEvent::Error {
            offset: 0,
            reason: format!("the TCP stream ends inside a frame ({left} bytes of it captured)"),
        });
    }
}

/// Reads a whole input and prints its messages.
fn decode_input<W: Write>(p: &mut Printer<W>, input: &str) {
    let reader: Box<dyn Read> = if input == "-" {
        Box::new(io::stdin().lock())
    } else {
        match File::open(input) {
            Ok(f) => Box::new(f),
            Err(e) => return p.unreadable(input, &format!("cannot open: {e}")),
        }
    };
    let mut reader = BufReader::with_capacity(64 * 1024, reader);
    let mut head = Vec::with_capacity(4);
    if let Err(e) = reader.by_ref().take(4).read_to_end(&mut head) {
        return p.unreadable(input, &format!("read error: {e}"));
    }
    if head.is_empty() {
        return p.unreadable(input, "empty input (no capture, no hex)");
    }
    let kind = pcap::file_kind(&head);
    let whole = Cursor::new(head).chain(reader);
    match kind {
        FileKind::Pcap | FileKind::PcapNg => decode_capture(p, input, whole),
        FileKind::Other => decode_hex(p, input, BufReader::new(whole)),
    }
}

fn decode_capture<W: Write, R: Read>(p: &mut Printer<W>, input: &str, r: R) {
    let mut reader = match CaptureReader::new(r) {
        Ok(r) => r,
        Err(e) => return p.unreadable(input, &e.to_string()),
    };
    let mut dec = CaptureDecoder {
        p,
        input,
        streams: Streams::new(MAX_STREAMS),
    };
    let mut last = None;
    let mut error = None;
    loop {
        if dec.p.broken.is_some() {
            break;
        }
        match reader.next_packet() {
            Ok(Some(pkt)) => {
                last = Some((pkt.number, pkt.time));
                dec.packet(&pkt);
            }
            Ok(None) => break,
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    dec.finish(last);
    if let Some(e) = error {
        let after = last.map_or(String::new(), |(n, _)| format!(" (after frame {n})"));
        p.unreadable(input, &format!("{e}{after}"));
    }
}

fn decode_hex<W: Write, R: BufRead>(p: &mut Printer<W>, input: &str, mut r: R) {
    let mut line_no = 0u64;
    let mut buf = Vec::new();
    loop {
        if p.broken.is_some() {
            return;
        }
        buf.clear();
        // Lines are bounded: a 16 MiB frame is 32 MiB of hex, allow some spacing.
        let limit = 3 * 2 * pcap::MAX_RECORD_LEN as u64;
        match r.by_ref().take(limit).read_until(b'\n', &mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) => return p.unreadable(input, &format!("read error: {e}")),
        }
        line_no += 1;
        if buf.len() as u64 >= limit && !buf.ends_with(b"\n") {
            return p.unreadable(input, &format!("line {line_no}: line too long"));
        }
        let Ok(text) = std::str::from_utf8(&buf) else {
            return p.unreadable(
                input,
                &format!(
                    "line {line_no}: not text (and not a pcap or pcapng file): \
                     expected hex, one packet a line"
                ),
            );
        };
        let text = text.trim_end_matches(['\n', '\r']);
        match parse_hex_line(text) {
            Ok(None) => {}
            Ok(Some((proto, bytes))) => {
                let m = Meta {
                    input,
                    frame: line_no,
                    hex: true,
                    time: None,
                    src: None,
                    dst: None,
                    transport: "hex",
                };
                match proto {
                    Proto::Nbns => p.nbns(&m, &bytes, false),
                    Proto::Wrepl => {
                        // One whole frame: the length word must match the line.
                        match wrepl::Frame::new_checked(&bytes[..]) {
                            Ok(f) if f.frame_len() != bytes.len() => p.fail(
                                &m,
                                Proto::Wrepl,
                                &bytes,
                                f.frame_len(),
                                &format!(
                                    "the length word says {} bytes, the line holds {}",
                                    f.frame_len(),
                                    bytes.len()
                                ),
                            ),
                            _ => p.wrepl(&m, &bytes),
                        }
                    }
                }
            }
            Err((col, why)) => {
                return p.unreadable(
                    input,
                    &format!("line {line_no}, column {col}: bad hex: {why}"),
                )
            }
        }
    }
}

/// Runs the subcommand; returns the exit status.
pub fn run(opts: &Options) -> i32 {
    let stdout = io::stdout();
    let mut p = Printer::new(io::BufWriter::new(stdout.lock()), opts.json);
    let multi = opts.inputs.len() > 1;
    for input in &opts.inputs {
        if multi && !opts.json {
            p.out(&format!("# {input}\n"));
        }
        decode_input(&mut p, input);
        if p.broken.is_some() {
            break;
        }
    }
    let s = p.summary();
    if let Err(e) = p.flush() {
        if e.kind() != io::ErrorKind::BrokenPipe {
            eprintln!("nbns-conform decode: cannot write output: {e}");
            return EXIT_UNREADABLE;
        }
    }
    eprintln!(
        "decoded {} messages, {} failed, {} frames skipped{}",
        s.decoded,
        s.failed,
        s.skipped,
        if s.unreadable > 0 {
            format!(", {} inputs unreadable", s.unreadable)
        } else {
            String::new()
        }
    );
    s.exit_code()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_lines() {
        assert_eq!(parse_hex_line("  # just a comment"), Ok(None));
        assert_eq!(parse_hex_line(""), Ok(None));
        assert_eq!(
            parse_hex_line("00:01 02\tff # trailing"),
            Ok(Some((Proto::Nbns, vec![0, 1, 2, 0xff])))
        );
        assert_eq!(
            parse_hex_line("wrepl: 0000 0029"),
            Ok(Some((Proto::Wrepl, vec![0, 0, 0, 0x29])))
        );
        assert_eq!(parse_hex_line("0g").unwrap_err().0, 2);
        assert!(parse_hex_line("0 1").is_err());
        assert!(parse_hex_line("abc").is_err());
        assert!(parse_hex_line("nbns:").is_err());
    }

    #[test]
    fn hex_dump_marks_the_offset() {
        let d = hex_dump(&[0u8; 40], 33);
        assert!(d.contains("0020"), "{d}");
        assert!(d.contains("^^ offset 33"), "{d}");
        let d = hex_dump(&[1, 2, 3], 3);
        assert!(d.contains("past the end"), "{d}");
        assert_eq!(hex_dump(&[], 5), "");
    }

    #[test]
    fn failures_and_successes_are_counted() {
        let mut out = Vec::new();
        let mut p = Printer::new(&mut out, true);
        let text = "# test\n\
            812f011000010000000000002045474643454645454341434143414341434143414341434143414341434143410000200001\n\
            8130 # too short\n";
        decode_hex(&mut p, "t", text.as_bytes());
        let s = p.summary();
        assert_eq!((s.decoded, s.failed, s.unreadable), (1, 1, 0));
        drop(p);
        let lines: Vec<Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["question"]["name"], "FRED<20>");
        assert_eq!(lines[0]["line"], 2);
        assert_eq!(lines[1]["ok"], false);
        assert_eq!(lines[1]["error"]["offset"], 0);
    }
}
