//! `max_records` (`serve --max-records N`): a full database refuses a new
//! name with SRV_ERR (RFC 1002 4.2.6), and still refreshes and releases the
//! names it holds.

use nbns_reference::packet_layer::PacketConfig;
use nbns_reference::server::WinsServerConfig;
use nbns_reference::EmbeddedServer;
use nbns_wire::nbns::{
    Compression, Flags, List, NbEntry, NbFlags, NodeType, Opcode, Question, RData, Rcode, Record,
    Repr, RrType, CLASS_IN,
};
use nbns_wire::{Labels, Name, NetbiosName};
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::time::Duration;

fn ask(socket: &UdpSocket, server: &EmbeddedServer, op: Opcode, id: u16, name: &str) -> Rcode {
    let me = Ipv4Addr::new(127, 13, 0, 3);
    let name = Name::netbios(
        NetbiosName::new(name.as_bytes(), 0x00).unwrap(),
        Labels::EMPTY,
    )
    .unwrap();
    let entries = [NbEntry {
        flags: NbFlags::new(false, NodeType::H),
        addr: me,
    }];
    let request = Repr {
        id,
        flags: Flags::request(op),
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
    request.emit(&mut packet, Compression::Question).unwrap();
    socket.send_to(&packet, server.addr()).unwrap();
    let mut buf = [0; 576];
    let (n, _) = socket.recv_from(&mut buf).unwrap();
    let reply = Repr::parse_bytes(&buf[..n]).unwrap();
    assert_eq!(reply.id, id);
    reply.flags.rcode
}

#[test]
fn a_full_database_refuses_new_names_and_keeps_serving_the_others() {
    let ip = Ipv4Addr::new(127, 13, 0, 2);
    let mut packet = PacketConfig::new("FULLTEST", ip);
    // The server's own <00> and <20> take two.
    packet.max_records = 5;
    let server =
        EmbeddedServer::start_with(WinsServerConfig::new(packet), SocketAddrV4::new(ip, 0))
            .unwrap();
    let socket = UdpSocket::bind((Ipv4Addr::new(127, 13, 0, 3), 0)).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    for (i, name) in ["ONE", "TWO", "THREE"].iter().enumerate() {
        assert_eq!(
            ask(&socket, &server, Opcode::Registration, i as u16 + 1, name),
            Rcode::NoError,
            "{name}"
        );
    }
    assert_eq!(
        ask(&socket, &server, Opcode::Registration, 10, "FOUR"),
        Rcode::SrvErr
    );
    assert_eq!(
        ask(&socket, &server, Opcode::MultihomedRegistration, 11, "FIVE"),
        Rcode::SrvErr
    );
    // What it holds still registers again, refreshes and releases.
    assert_eq!(
        ask(&socket, &server, Opcode::Registration, 12, "ONE"),
        Rcode::NoError
    );
    assert_eq!(
        ask(&socket, &server, Opcode::Refresh, 13, "TWO"),
        Rcode::NoError
    );
    assert_eq!(
        ask(&socket, &server, Opcode::Release, 14, "THREE"),
        Rcode::NoError
    );
    // A released record still holds its place until it is scavenged.
    assert_eq!(
        ask(&socket, &server, Opcode::Registration, 15, "FOUR"),
        Rcode::SrvErr
    );
    assert_eq!(
        ask(&socket, &server, Opcode::Registration, 16, "THREE"),
        Rcode::NoError
    );
    server.stop().unwrap();
}
