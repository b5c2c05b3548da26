//! `Name::parse` at offset 0 and at an offset the fuzzer picks (the first
//! byte of the input, the rest is the packet, so compression pointers can
//! point back into bytes before the name). A parsed name must stay within
//! the parser's bound (names over RFC 1002's 255 bytes are accepted, as real
//! servers send them, up to `MAX_PARSE_NAME_LEN`), emit uncompressed, and
//! parse back equal.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nbns_wire::name::{Name, MAX_NAME_LEN, MAX_PARSE_NAME_LEN};

fn check(packet: &[u8], pos: usize) {
    match Name::parse(packet, pos) {
        Ok((name, end)) => {
            assert!(end > pos && end <= packet.len(), "end {end} for pos {pos}");
            let len = name.buffer_len();
            assert!(len <= MAX_PARSE_NAME_LEN, "parsed name of {len} bytes");
            assert_eq!(name.exceeds_rfc_limit(), len > MAX_NAME_LEN);
            let mut buf = vec![0u8; len];
            assert_eq!(name.emit(&mut buf), Ok(len));
            let (again, again_end) = Name::parse(&buf, 0)
                .unwrap_or_else(|e| panic!("emitted name does not parse: {e}\n{buf:02x?}"));
            assert_eq!(again, name);
            assert_eq!(again_end, len);
            assert_eq!(again.to_string(), name.to_string());
            assert_eq!(
                Name::parse_netbios(packet, pos).is_ok(),
                name.netbios_name().is_some()
            );
        }
        Err(e) => {
            assert!(
                e.offset <= packet.len(),
                "error offset {} past the end",
                e.offset
            );
            assert!(Name::parse_netbios(packet, pos).is_err());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&at, packet)) = data.split_first() else {
        return;
    };
    check(packet, 0);
    let pos = at as usize;
    if pos < packet.len() {
        check(packet, pos);
    }
});
