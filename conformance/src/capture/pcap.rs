//! Reading packet captures: classic pcap and pcapng files, the link layers
//! tcpdump and Wireshark write on Linux (Ethernet, Linux cooked SLL/SLL2,
//! raw IP, BSD null/loopback), IPv4/IPv6, UDP and TCP.
//!
//! Everything here works on untrusted bytes: no field read from the file can
//! make it panic, allocate without bound or loop forever. A record or block
//! longer than [`MAX_RECORD_LEN`] is an error, not an allocation.

use std::fmt;
use std::io::{self, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Largest packet record or pcapng block accepted (libpcap's own limit is
/// 256 KiB for most link types; this leaves room for odd writers).
pub const MAX_RECORD_LEN: usize = 16 * 1024 * 1024;

/// Link-layer header types (LINKTYPE_* values of the pcap/pcapng formats).
pub mod linktype {
    pub const NULL: u32 = 0;
    pub const ETHERNET: u32 = 1;
    /// DLT_RAW as some systems number it in files.
    pub const RAW_12: u32 = 12;
    pub const RAW_14: u32 = 14;
    pub const RAW: u32 = 101;
    pub const LOOP: u32 = 108;
    pub const LINUX_SLL: u32 = 113;
    pub const IPV4: u32 = 228;
    pub const IPV6: u32 = 229;
    pub const LINUX_SLL2: u32 = 276;
}

/// One packet record from a capture file.
#[derive(Debug, Clone)]
pub struct RawPacket {
    /// 1-based, counting every packet record (as Wireshark's frame.number).
    pub number: u64,
    /// Seconds since the Unix epoch, when the file gives a usable timestamp.
    pub time: Option<f64>,
    pub linktype: u32,
    pub data: Vec<u8>,
    /// The packet's length on the wire (may exceed `data.len()` under a snaplen).
    pub orig_len: u32,
}

/// Why a capture file cannot be read (further).
#[derive(Debug)]
pub enum CaptureError {
    Io(io::Error),
    /// The file ends inside a header, record or block.
    Truncated {
        at: u64,
        what: &'static str,
    },
    /// A header or block that breaks the format.
    Malformed {
        at: u64,
        what: String,
    },
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaptureError::Io(e) => write!(f, "read error: {e}"),
            CaptureError::Truncated { at, what } => {
                write!(f, "file is cut short at byte {at}, inside {what}")
            }
            CaptureError::Malformed { at, what } => write!(f, "malformed at byte {at}: {what}"),
        }
    }
}

impl From<io::Error> for CaptureError {
    fn from(e: io::Error) -> Self {
        CaptureError::Io(e)
    }
}

/// The kind of file, from its first four bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Pcap,
    PcapNg,
    Other,
}

const PCAP_MAGIC_US: u32 = 0xa1b2_c3d4;
const PCAP_MAGIC_NS: u32 = 0xa1b2_3c4d;
const PCAPNG_SHB: u32 = 0x0a0d_0d0a;
const PCAPNG_BOM: u32 = 0x1a2b_3c4d;

pub fn file_kind(head: &[u8]) -> FileKind {
    let Some(m) = head.get(..4) else {
        return FileKind::Other;
    };
    let le = u32::from_le_bytes([m[0], m[1], m[2], m[3]]);
    let be = u32::from_be_bytes([m[0], m[1], m[2], m[3]]);
    if [PCAP_MAGIC_US, PCAP_MAGIC_NS].contains(&le) || [PCAP_MAGIC_US, PCAP_MAGIC_NS].contains(&be)
    {
        FileKind::Pcap
    } else if le == PCAPNG_SHB {
        FileKind::PcapNg
    } else {
        FileKind::Other
    }
}

#[derive(Debug, Clone, Copy)]
enum Endian {
    Little,
    Big,
}

impl Endian {
    fn u16(self, b: &[u8], at: usize) -> Option<u16> {
        let s = b.get(at..at + 2)?;
        let a = [s[0], s[1]];
        Some(match self {
            Endian::Little => u16::from_le_bytes(a),
            Endian::Big => u16::from_be_bytes(a),
        })
    }
    fn u32(self, b: &[u8], at: usize) -> Option<u32> {
        let s = b.get(at..at + 4)?;
        let a = [s[0], s[1], s[2], s[3]];
        Some(match self {
            Endian::Little => u32::from_le_bytes(a),
            Endian::Big => u32::from_be_bytes(a),
        })
    }
}

/// Per-interface data of a pcapng section.
#[derive(Debug, Clone, Copy)]
struct Interface {
    linktype: u32,
    /// Timestamp units per second, when representable.
    units_per_sec: Option<f64>,
    offset_secs: i64,
}

enum Format {
    Pcap {
        endian: Endian,
        nanos: bool,
        linktype: u32,
    },
    PcapNg {
        endian: Endian,
        interfaces: Vec<Interface>,
    },
}

/// Streams packet records from a pcap or pcapng file.
pub struct CaptureReader<R: Read> {
    r: R,
    /// Bytes consumed so far, for error positions.
    pos: u64,
    format: Format,
    number: u64,
}

/// Reads exactly `buf.len()` bytes. `Ok(false)` on a clean end of file
/// before the first byte; a partial read is a truncation.
fn read_full<R: Read>(
    r: &mut R,
    buf: &mut [u8],
    pos: &mut u64,
    what: &'static str,
) -> Result<bool, CaptureError> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => {
                if got == 0 {
                    return Ok(false);
                }
                return Err(CaptureError::Truncated {
                    at: *pos + got as u64,
                    what,
                });
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    *pos += got as u64;
    Ok(true)
}

fn read_required<R: Read>(
    r: &mut R,
    buf: &mut [u8],
    pos: &mut u64,
    what: &'static str,
) -> Result<(), CaptureError> {
    if read_full(r, buf, pos, what)? {
        Ok(())
    } else {
        Err(CaptureError::Truncated { at: *pos, what })
    }
}

/// Reads `len` bytes into a new vector, growing it as data arrives so a
/// lying length field cannot make us allocate what the file does not hold.
fn read_vec<R: Read>(
    r: &mut R,
    len: usize,
    pos: &mut u64,
    what: &'static str,
) -> Result<Vec<u8>, CaptureError> {
    let mut v = Vec::with_capacity(len.min(64 * 1024));
    let got = r.by_ref().take(len as u64).read_to_end(&mut v)?;
    *pos += got as u64;
    if got < len {
        return Err(CaptureError::Truncated { at: *pos, what });
    }
    Ok(v)
}

impl<R: Read> CaptureReader<R> {
    /// Reads the file header (pcap) or first section header (pcapng).
    pub fn new(mut r: R) -> Result<Self, CaptureError> {
        let mut pos = 0u64;
        let mut magic = [0u8; 4];
        read_required(&mut r, &mut magic, &mut pos, "the file header")?;
        match file_kind(&magic) {
            FileKind::Pcap => {
                let mut rest = [0u8; 20];
                read_required(&mut r, &mut rest, &mut pos, "the pcap file header")?;
                let le = u32::from_le_bytes(magic);
                let (endian, m) = if le == PCAP_MAGIC_US || le == PCAP_MAGIC_NS {
                    (Endian::Little, le)
                } else {
                    (Endian::Big, u32::from_be_bytes(magic))
                };
                // rest: version major(2) minor(2) thiszone(4) sigfigs(4) snaplen(4) network(4)
                let network = endian.u32(&rest, 16).unwrap_or(0);
                Ok(CaptureReader {
                    r,
                    pos,
                    format: Format::Pcap {
                        endian,
                        nanos: m == PCAP_MAGIC_NS,
                        // The upper bits carry FCS information.
                        linktype: network & 0x03ff_ffff,
                    },
                    number: 0,
                })
            }
            FileKind::PcapNg => {
                let mut reader = CaptureReader {
                    r,
                    pos: 0,
                    format: Format::PcapNg {
                        endian: Endian::Little,
                        interfaces: Vec::new(),
                    },
                    number: 0,
                };
                reader.pos = pos;
                reader.section_header()?;
                Ok(reader)
            }
            FileKind::Other => Err(CaptureError::Malformed {
                at: 0,
                what: "not a pcap or pcapng file".into(),
            }),
        }
    }

    /// Reads the rest of a section header block whose type was just read.
    fn section_header(&mut self) -> Result<(), CaptureError> {
        let start = self.pos - 4;
        let mut hdr = [0u8; 8];
        read_required(
            &mut self.r,
            &mut hdr,
            &mut self.pos,
            "a section header block",
        )?;
        let bom = u32::from_le_bytes([hdr[4], hdr[5], hdr[6], hdr[7]]);
        let endian = if bom == PCAPNG_BOM {
            Endian::Little
        } else if bom.swap_bytes() == PCAPNG_BOM {
            Endian::Big
        } else {
            return Err(CaptureError::Malformed {
                at: start + 8,
                what: format!("pcapng byte-order magic 0x{bom:08x}"),
            });
        };
        let total = endian.u32(&hdr, 0).unwrap_or(0) as usize;
        if !(28..=MAX_RECORD_LEN).contains(&total) || total & 3 != 0 {
            return Err(CaptureError::Malformed {
                at: start + 4,
                what: format!("section header block length {total}"),
            });
        }
        // Skip the rest of the block (version, section length, options, trailer).
        read_vec(
            &mut self.r,
            total - 12,
            &mut self.pos,
            "a section header block",
        )?;
        self.format = Format::PcapNg {
            endian,
            interfaces: Vec::new(),
        };
        Ok(())
    }

    /// The next packet, `Ok(None)` at a clean end of file.
    pub fn next_packet(&mut self) -> Result<Option<RawPacket>, CaptureError> {
        match self.format {
            Format::Pcap {
                endian,
                nanos,
                linktype,
            } => self.next_pcap(endian, nanos, linktype),
            Format::PcapNg { .. } => self.next_pcapng(),
        }
    }

    fn next_pcap(
        &mut self,
        endian: Endian,
        nanos: bool,
        linktype: u32,
    ) -> Result<Option<RawPacket>, CaptureError> {
        let at = self.pos;
        let mut hdr = [0u8; 16];
        if !read_full(
            &mut self.r,
            &mut hdr,
            &mut self.pos,
            "a packet record header",
        )? {
            return Ok(None);
        }
        let sec = endian.u32(&hdr, 0).unwrap_or(0);
        let frac = endian.u32(&hdr, 4).unwrap_or(0);
        let incl = endian.u32(&hdr, 8).unwrap_or(0) as usize;
        let orig_len = endian.u32(&hdr, 12).unwrap_or(0);
        if incl > MAX_RECORD_LEN {
            return Err(CaptureError::Malformed {
                at: at + 8,
                what: format!("packet record length {incl}"),
            });
        }
        let data = read_vec(&mut self.r, incl, &mut self.pos, "a packet record")?;
        self.number += 1;
        let div = if nanos { 1e9 } else { 1e6 };
        Ok(Some(RawPacket {
            number: self.number,
            time: Some(sec as f64 + frac as f64 / div),
            linktype,
            data,
            orig_len,
        }))
    }

    fn next_pcapng(&mut self) -> Result<Option<RawPacket>, CaptureError> {
        loop {
            let start = self.pos;
            let mut head = [0u8; 4];
            if !read_full(&mut self.r, &mut head, &mut self.pos, "a block header")? {
                return Ok(None);
            }
            if u32::from_le_bytes(head) == PCAPNG_SHB {
                self.section_header()?;
                continue;
            }
            let Format::PcapNg { endian, .. } = self.format else {
                return Ok(None);
            };
            let mut len = [0u8; 4];
            read_required(&mut self.r, &mut len, &mut self.pos, "a block header")?;
            let btype = endian.u32(&head, 0).unwrap_or(0);
            let total = endian.u32(&len, 0).unwrap_or(0) as usize;
            if !(12..=MAX_RECORD_LEN).contains(&total) || total & 3 != 0 {
                return Err(CaptureError::Malformed {
                    at: start + 4,
                    what: format!("block length {total}"),
                });
            }
            let body_and_trailer = read_vec(&mut self.r, total - 8, &mut self.pos, "a block")?;
            let body = &body_and_trailer[..total - 12];
            if let Some(p) = self.block(btype, body, start)? {
                return Ok(Some(p));
            }
        }
    }

    /// Handles one non-SHB block; returns the packet it holds, if any.
    fn block(
        &mut self,
        btype: u32,
        body: &[u8],
        start: u64,
    ) -> Result<Option<RawPacket>, CaptureError> {
        let Format::PcapNg { endian, interfaces } = &mut self.format else {
            return Ok(None);
        };
        let e = *endian;
        let short = |what: &str| CaptureError::Malformed {
            at: start,
            what: format!("{what} block too short"),
        };
        match btype {
            // Interface description block.
            1 => {
                let linktype = e.u16(body, 0).ok_or_else(|| short("interface"))? as u32;
                let mut iface = Interface {
                    linktype,
                    units_per_sec: Some(1e6),
                    offset_secs: 0,
                };
                for (code, val) in options(e, body.get(8..).unwrap_or(&[])) {
                    match (code, val) {
                        (9, [v, ..]) => {
                            iface.units_per_sec = if v & 0x80 != 0 {
                                let p = (v & 0x7f) as i32;
                                (p < 64).then(|| 2f64.powi(p))
                            } else {
                                let p = *v as i32;
                                (p < 20).then(|| 10f64.powi(p))
                            };
                        }
                        (14, v) if v.len() == 8 => {
                            let lo = e.u32(v, 0).unwrap_or(0) as u64;
                            let hi = e.u32(v, 4).unwrap_or(0) as u64;
                            let raw = match e {
                                Endian::Little => lo | hi << 32,
                                Endian::Big => lo << 32 | hi,
                            };
                            iface.offset_secs = raw as i64;
                        }
                        _ => {}
                    }
                }
                // Bounded: a file cannot declare more interfaces than it has blocks.
                interfaces.push(iface);
                Ok(None)
            }
            // Enhanced packet block, and the obsolete packet block (2), which
            // differs only in a 16-bit interface id.
            6 | 2 => {
                let ifid = if btype == 6 {
                    e.u32(body, 0)
                } else {
                    e.u16(body, 0).map(u32::from)
                };
                let (Some(ifid), Some(hi), Some(lo), Some(cap), Some(orig)) = (
                    ifid,
                    e.u32(body, 4),
                    e.u32(body, 8),
                    e.u32(body, 12),
                    e.u32(body, 16),
                ) else {
                    return Err(short(if btype == 6 {
                        "enhanced packet"
                    } else {
                        "packet"
                    }));
                };
                let data = body
                    .get(20..20usize.saturating_add(cap as usize))
                    .ok_or_else(|| CaptureError::Malformed {
                        at: start + 20,
                        what: format!("captured length {cap} is longer than its block"),
                    })?;
                let iface = interfaces.get(ifid as usize).copied().ok_or_else(|| {
                    CaptureError::Malformed {
                        at: start + 8,
                        what: format!("packet on undeclared interface {ifid}"),
                    }
                })?;
                let ts = (hi as u64) << 32 | lo as u64;
                self.number += 1;
                Ok(Some(RawPacket {
                    number: self.number,
                    time: iface
                        .units_per_sec
                        .map(|u| ts as f64 / u + iface.offset_secs as f64),
                    linktype: iface.linktype,
                    data: data.to_vec(),
                    orig_len: orig,
                }))
            }
            // Simple packet block: interface 0, no timestamp.
            3 => {
                let orig = e.u32(body, 0).ok_or_else(|| short("simple packet"))?;
                let iface = interfaces
                    .first()
                    .copied()
                    .ok_or_else(|| CaptureError::Malformed {
                        at: start,
                        what: "simple packet block before any interface".into(),
                    })?;
                let rest = body.get(4..).unwrap_or(&[]);
                let data = &rest[..rest.len().min(orig as usize)];
                self.number += 1;
                Ok(Some(RawPacket {
                    number: self.number,
                    time: None,
                    linktype: iface.linktype,
                    data: data.to_vec(),
                    orig_len: orig,
                }))
            }
            // Name resolution, statistics, custom, journal, ...: not packets.
            _ => Ok(None),
        }
    }
}

/// The (code, value) options of a pcapng block, stopping at opt_endofopt or
/// at the first option that does not fit.
fn options(e: Endian, mut b: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    while let (Some(code), Some(len)) = (e.u16(b, 0), e.u16(b, 2)) {
        if code == 0 {
            break;
        }
        let len = len as usize;
        let Some(val) = b.get(4..4 + len) else { break };
        out.push((code, val));
        let padded = 4 + len.div_ceil(4) * 4;
        b = b.get(padded..).unwrap_or(&[]);
    }
    out
}

// ---------------------------------------------------------------------------
// Link, network and transport layers.

/// A transport segment pulled out of a packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport<'a> {
    Udp {
        src: SocketAddr,
        dst: SocketAddr,
        payload: &'a [u8],
        /// The datagram was cut by the capture's snaplen.
        cut: bool,
    },
    Tcp(TcpSegment<'a>),
    /// An IP fragment (not reassembled). `ports` when it is a first fragment
    /// whose transport header is there.
    Fragment {
        src: IpAddr,
        dst: IpAddr,
        protocol: u8,
        ports: Option<(u16, u16)>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpSegment<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub seq: u32,
    pub syn: bool,
    pub fin: bool,
    pub rst: bool,
    pub payload: &'a [u8],
    /// The segment was cut by the capture's snaplen.
    pub cut: bool,
}

/// Why a packet holds nothing for us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip(pub String);

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: [u16; 3] = [0x8100, 0x88a8, 0x9100];

fn be16(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..at + 2).map(|s| u16::from_be_bytes([s[0], s[1]]))
}
fn be32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

fn skip(s: impl Into<String>) -> Skip {
    Skip(s.into())
}

/// Strips the link layer: the network-layer bytes, by EtherType.
pub fn link_payload(linktype: u32, data: &[u8]) -> Result<(u16, &[u8]), Skip> {
    let trunc = || skip("link-layer header cut short");
    match linktype {
        linktype::ETHERNET => {
            let mut et = be16(data, 12).ok_or_else(trunc)?;
            let mut at = 14;
            // 802.1Q / 802.1ad tags (a bounded number: each takes 4 bytes).
            while ETHERTYPE_VLAN.contains(&et) {
                et = be16(data, at + 2).ok_or_else(trunc)?;
                at += 4;
            }
            Ok((et, data.get(at..).ok_or_else(trunc)?))
        }
        linktype::LINUX_SLL => {
            let et = be16(data, 14).ok_or_else(trunc)?;
            Ok((et, data.get(16..).ok_or_else(trunc)?))
        }
        linktype::LINUX_SLL2 => {
            let et = be16(data, 0).ok_or_else(trunc)?;
            Ok((et, data.get(20..).ok_or_else(trunc)?))
        }
        linktype::RAW | linktype::RAW_12 | linktype::RAW_14 => match data.first().map(|b| b >> 4) {
            Some(4) => Ok((ETHERTYPE_IPV4, data)),
            Some(6) => Ok((ETHERTYPE_IPV6, data)),
            _ => Err(skip("raw IP packet of unknown version")),
        },
        linktype::IPV4 => Ok((ETHERTYPE_IPV4, data)),
        linktype::IPV6 => Ok((ETHERTYPE_IPV6, data)),
        linktype::NULL | linktype::LOOP => {
            let f = data.get(..4).ok_or_else(trunc)?;
            // NULL: host byte order of the capturing machine; LOOP: network order.
            let fam = if linktype == linktype::LOOP {
                u32::from_be_bytes([f[0], f[1], f[2], f[3]])
            } else {
                let le = u32::from_le_bytes([f[0], f[1], f[2], f[3]]);
                if le < 0x1_0000 {
                    le
                } else {
                    u32::from_be_bytes([f[0], f[1], f[2], f[3]])
                }
            };
            let et = match fam {
                2 => ETHERTYPE_IPV4,
                // AF_INET6 differs between BSDs and others.
                10 | 24 | 28 | 30 => ETHERTYPE_IPV6,
                other => return Err(skip(format!("loopback address family {other}"))),
            };
            Ok((et, &data[4..]))
        }
        other => Err(skip(format!("link type {other} not supported"))),
    }
}

/// The transport segment of a packet, or why there is none for us.
pub fn transport(linktype: u32, data: &[u8]) -> Result<Transport<'_>, Skip> {
    let (et, net) = link_payload(linktype, data)?;
    match et {
        ETHERTYPE_IPV4 => ipv4(net),
        ETHERTYPE_IPV6 => ipv6(net),
        other => Err(skip(format!("EtherType 0x{other:04x}"))),
    }
}

fn ipv4(b: &[u8]) -> Result<Transport<'_>, Skip> {
    let trunc = || skip("IPv4 header cut short");
    let vihl = *b.first().ok_or_else(trunc)?;
    if vihl >> 4 != 4 {
        return Err(skip("IPv4 header with another version"));
    }
    let ihl = (vihl & 0x0f) as usize * 4;
    if ihl < 20 {
        return Err(skip("IPv4 header length under 20"));
    }
    let header = b.get(..ihl).ok_or_else(trunc)?;
    let total = be16(header, 2).unwrap_or(0) as usize;
    let frag = be16(header, 6).unwrap_or(0);
    let protocol = header[9];
    let src = IpAddr::V4(Ipv4Addr::new(
        header[12], header[13], header[14], header[15],
    ));
    let dst = IpAddr::V4(Ipv4Addr::new(
        header[16], header[17], header[18], header[19],
    ));
    if total < ihl {
        return Err(skip("IPv4 total length under its header length"));
    }
    // Trim Ethernet padding; a snaplen cut leaves fewer bytes than `total`.
    let cut = b.len() < total;
    let payload = &b[ihl..b.len().min(total)];
    let more_fragments = frag & 0x2000 != 0;
    let frag_offset = frag & 0x1fff;
    if more_fragments || frag_offset != 0 {
        let ports = (frag_offset == 0)
            .then(|| Some((be16(payload, 0)?, be16(payload, 2)?)))
            .flatten();
        return Ok(Transport::Fragment {
            src,
            dst,
            protocol,
            ports,
        });
    }
    l4(protocol, src, dst, payload, cut)
}

fn ipv6(b: &[u8]) -> Result<Transport<'_>, Skip> {
    let header = b.get(..40).ok_or_else(|| skip("IPv6 header cut short"))?;
    if header[0] >> 4 != 6 {
        return Err(skip("IPv6 header with another version"));
    }
    let plen = be16(header, 4).unwrap_or(0) as usize;
    let mut next = header[6];
    let mut s = [0u8; 16];
    s.copy_from_slice(&header[8..24]);
    let mut d = [0u8; 16];
    d.copy_from_slice(&header[24..40]);
    let (src, dst) = (IpAddr::V6(Ipv6Addr::from(s)), IpAddr::V6(Ipv6Addr::from(d)));
    let rest = &b[40..];
    // A payload length of 0 is a jumbogram (hop-by-hop option); take what is there.
    let cut = plen != 0 && rest.len() < plen;
    let mut p = if plen == 0 {
        rest
    } else {
        &rest[..rest.len().min(plen)]
    };
    // Extension headers: a bounded walk.
    for _ in 0..16 {
        match next {
            // Hop-by-hop, routing, destination options, mobility.
            0 | 43 | 60 | 135 => {
                let nh = *p
                    .first()
                    .ok_or_else(|| skip("IPv6 extension header cut short"))?;
                let len = (*p
                    .get(1)
                    .ok_or_else(|| skip("IPv6 extension header cut short"))?
                    as usize
                    + 1)
                    * 8;
                p = p
                    .get(len..)
                    .ok_or_else(|| skip("IPv6 extension header cut short"))?;
                next = nh;
            }
            // Authentication header: length in 4-byte units, minus 2.
            51 => {
                let nh = *p.first().ok_or_else(|| skip("IPv6 AH cut short"))?;
                let len = (*p.get(1).ok_or_else(|| skip("IPv6 AH cut short"))? as usize + 2) * 4;
                p = p.get(len..).ok_or_else(|| skip("IPv6 AH cut short"))?;
                next = nh;
            }
            44 => {
                let nh = *p
                    .first()
                    .ok_or_else(|| skip("IPv6 fragment header cut short"))?;
                let off = be16(p, 2).ok_or_else(|| skip("IPv6 fragment header cut short"))?;
                let inner = p.get(8..).unwrap_or(&[]);
                let ports = (off >> 3 == 0)
                    .then(|| Some((be16(inner, 0)?, be16(inner, 2)?)))
                    .flatten();
                return Ok(Transport::Fragment {
                    src,
                    dst,
                    protocol: nh,
                    ports,
                });
            }
            _ => return l4(next, src, dst, p, cut),
        }
    }
    Err(skip("too many IPv6 extension headers"))
}

fn l4(protocol: u8, src: IpAddr, dst: IpAddr, b: &[u8], cut: bool) -> Result<Transport<'_>, Skip> {
    match protocol {
        17 => {
            let trunc = || skip("UDP header cut short");
            let sport = be16(b, 0).ok_or_else(trunc)?;
            let dport = be16(b, 2).ok_or_else(trunc)?;
            let ulen = be16(b, 4).ok_or_else(trunc)? as usize;
            if b.len() < 8 {
                return Err(trunc());
            }
            // A UDP length under 8 (or 0 for IPv6 jumbograms): use the IP length.
            let end = if ulen >= 8 {
                ulen.min(b.len())
            } else {
                b.len()
            };
            Ok(Transport::Udp {
                src: SocketAddr::new(src, sport),
                dst: SocketAddr::new(dst, dport),
                payload: &b[8..end],
                cut: cut || (ulen >= 8 && b.len() < ulen),
            })
        }
        6 => {
            let trunc = || skip("TCP header cut short");
            let sport = be16(b, 0).ok_or_else(trunc)?;
            let dport = be16(b, 2).ok_or_else(trunc)?;
            let seq = be32(b, 4).ok_or_else(trunc)?;
            let off = (*b.get(12).ok_or_else(trunc)? >> 4) as usize * 4;
            let flags = *b.get(13).ok_or_else(trunc)?;
            if off < 20 {
                return Err(skip("TCP data offset under 20"));
            }
            let payload = b.get(off..).ok_or_else(trunc)?;
            Ok(Transport::Tcp(TcpSegment {
                src: SocketAddr::new(src, sport),
                dst: SocketAddr::new(dst, dport),
                seq,
                syn: flags & 0x02 != 0,
                fin: flags & 0x01 != 0,
                rst: flags & 0x04 != 0,
                payload,
                cut,
            }))
        }
        other => Err(skip(format!("IP protocol {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipv4_udp(payload: &[u8]) -> Vec<u8> {
        let mut p = vec![
            0x45, 0, 0, 0, 0, 1, 0, 0, 64, 17, 0, 0, 127, 0, 0, 3, 127, 0, 0, 2,
        ];
        let total = 20 + 8 + payload.len();
        p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        p.extend_from_slice(&137u16.to_be_bytes());
        p.extend_from_slice(&137u16.to_be_bytes());
        p.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        p.extend_from_slice(&[0, 0]);
        p.extend_from_slice(payload);
        p
    }

    #[test]
    fn every_link_type_reaches_the_udp_payload() {
        let ip = ipv4_udp(b"hello");
        let mut eth = vec![0u8; 12];
        eth.extend_from_slice(&[0x81, 0x00, 0, 1, 0x08, 0x00]);
        eth.extend_from_slice(&ip);
        eth.extend_from_slice(&[0; 6]); // padding
        let mut sll = vec![0u8; 14];
        sll.extend_from_slice(&[0x08, 0x00]);
        sll.extend_from_slice(&ip);
        let mut sll2 = vec![0x08, 0x00];
        sll2.extend_from_slice(&[0; 18]);
        sll2.extend_from_slice(&ip);
        let mut null = 2u32.to_le_bytes().to_vec();
        null.extend_from_slice(&ip);
        let mut lo = 2u32.to_be_bytes().to_vec();
        lo.extend_from_slice(&ip);
        for (lt, data) in [
            (linktype::ETHERNET, eth),
            (linktype::LINUX_SLL, sll),
            (linktype::LINUX_SLL2, sll2),
            (linktype::RAW, ip.clone()),
            (linktype::NULL, null),
            (linktype::LOOP, lo),
        ] {
            match transport(lt, &data) {
                Ok(Transport::Udp {
                    payload, src, cut, ..
                }) => {
                    assert_eq!(payload, b"hello", "link type {lt}");
                    assert_eq!(src.to_string(), "127.0.0.3:137");
                    assert!(!cut);
                }
                other => panic!("link type {lt}: {other:?}"),
            }
        }
    }

    #[test]
    fn fragments_are_reported() {
        let mut ip = ipv4_udp(b"hello");
        ip[6] = 0x20; // MF
        assert!(matches!(
            transport(linktype::RAW, &ip),
            Ok(Transport::Fragment {
                protocol: 17,
                ports: Some((137, 137)),
                ..
            })
        ));
    }

    #[test]
    fn short_and_odd_packets_are_skipped_not_panics() {
        let ip = ipv4_udp(b"hello");
        for lt in [0, 1, 12, 101, 108, 113, 228, 229, 276, 9999] {
            for cut in 0..ip.len() + 24 {
                let mut d = vec![0u8; 24];
                d.extend_from_slice(&ip);
                let _ = transport(lt, &d[..cut.min(d.len())]);
                let _ = transport(lt, &ip[..cut.min(ip.len())]);
            }
        }
    }

    #[test]
    fn pcap_reader_reads_records_and_reports_truncation() {
        let mut f = Vec::new();
        f.extend_from_slice(&PCAP_MAGIC_US.to_le_bytes());
        f.extend_from_slice(&[2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        f.extend_from_slice(&65535u32.to_le_bytes());
        f.extend_from_slice(&101u32.to_le_bytes());
        let ip = ipv4_udp(b"x");
        for _ in 0..2 {
            f.extend_from_slice(&10u32.to_le_bytes());
            f.extend_from_slice(&500_000u32.to_le_bytes());
            f.extend_from_slice(&(ip.len() as u32).to_le_bytes());
            f.extend_from_slice(&(ip.len() as u32).to_le_bytes());
            f.extend_from_slice(&ip);
        }
        let mut r = CaptureReader::new(&f[..]).unwrap();
        let p = r.next_packet().unwrap().unwrap();
        assert_eq!((p.number, p.time, p.linktype), (1, Some(10.5), 101));
        assert_eq!(r.next_packet().unwrap().unwrap().number, 2);
        assert!(r.next_packet().unwrap().is_none());
        let cut = &f[..f.len() - 3];
        let mut r = CaptureReader::new(cut).unwrap();
        assert!(r.next_packet().unwrap().is_some());
        assert!(matches!(
            r.next_packet(),
            Err(CaptureError::Truncated { .. })
        ));
    }
}
