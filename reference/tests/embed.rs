//! The README's "Embedding the reference server" snippet, compiled and run:
//! start the server on a loopback port, register a name with a packet, stop.

use nbns_reference::EmbeddedServer;
use nbns_wire::nbns::{
    Compression, Flags, List, NbEntry, NbFlags, NodeType, Opcode, Question, RData, Rcode, Record,
    Repr, RrType, CLASS_IN,
};
use nbns_wire::{Labels, Name, NetbiosName};
use std::net::{Ipv4Addr, UdpSocket};
use std::time::Duration;

#[test]
fn embed_register_stop() -> Result<(), Box<dyn std::error::Error>> {
    // README snippet: begin
    let server = EmbeddedServer::start(137)?; // 127.0.0.2, a free port, database in memory
    let me = Ipv4Addr::new(127, 0, 0, 3);
    let socket = UdpSocket::bind((me, 0))?;
    let name = Name::netbios(NetbiosName::new(b"MYTEST", 0x00)?, Labels::EMPTY)?;
    let entries = [NbEntry {
        flags: NbFlags::new(false, NodeType::H),
        addr: me,
    }];
    let request = Repr {
        id: 1,
        flags: Flags::request(Opcode::Registration),
        question: Some(Question {
            name,
            qtype: RrType::Nb,
            qclass: CLASS_IN,
        }),
        answer: None,
        authority: None,
        additional: Some(Record {
            name,
            class: CLASS_IN,
            ttl: 300,
            rdata: RData::Nb(List::Items(&entries)),
        }),
    };
    let mut packet = vec![0; request.buffer_len(Compression::Question)];
    request.emit(&mut packet, Compression::Question)?;
    socket.send_to(&packet, server.addr())?;

    let mut buf = [0; 576];
    socket.set_read_timeout(Some(Duration::from_secs(3)))?;
    let (n, _) = socket.recv_from(&mut buf)?;
    assert_eq!(Repr::parse_bytes(&buf[..n])?.flags.rcode, Rcode::NoError);
    server.stop()?;
    // README snippet: end
    Ok(())
}

/// The README shows the snippet above verbatim (its imports first), so what
/// it shows compiles and runs.
#[test]
fn readme_shows_this_snippet() {
    let this = include_str!("embed.rs");
    let begin = this.find("// README snippet: begin\n").unwrap();
    let end = this.find("    // README snippet: end").unwrap();
    let body: String = this[begin..end]
        .lines()
        .skip(1)
        .map(|l| format!("{}\n", l.strip_prefix("    ").unwrap_or(l)))
        .collect();
    let imports_end = this.find("use std::time::Duration;\n").unwrap();
    let imports = &this[this.find("use nbns_reference").unwrap()..imports_end + 25];
    let readme = include_str!("../../README.md");
    let want = format!("```rust\n{imports}\n{body}```");
    assert!(
        readme.contains(&want),
        "README.md must show, in its embedding section:\n{want}"
    );
}
