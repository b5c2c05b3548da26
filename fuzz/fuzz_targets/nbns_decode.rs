//! Untrusted bytes -> `Repr::parse_bytes`. Whatever parses must validate,
//! report the exact length `emit` writes, and emit without error into a
//! buffer of exactly that size (and fail cleanly on a shorter one).
#![no_main]

use libfuzzer_sys::fuzz_target;
use nbns_wire::nbns::{Compression, Packet, Repr};
use std::fmt::Write;

fuzz_target!(|data: &[u8]| {
    // The header view agrees with the parser about what is a header.
    let view = Packet::new_checked(data);
    match Repr::parse_bytes(data) {
        Ok(repr) => {
            let view = view.expect("parsed packet without a header");
            assert_eq!(view.transaction_id(), repr.id);
            assert_eq!(view.flags(), repr.flags);
            repr.validate().expect("a parsed Repr must validate");
            for c in [Compression::None, Compression::Question] {
                let len = repr.buffer_len(c);
                let mut buf = vec![0u8; len];
                assert_eq!(
                    repr.emit(&mut buf, c),
                    Ok(len),
                    "emit wrote other than buffer_len"
                );
                if len > 0 {
                    assert!(repr.emit(&mut buf[..len - 1], c).is_err());
                }
            }
            let mut s = String::new();
            write!(s, "{repr}").unwrap();
        }
        Err(e) => {
            assert!(
                e.offset <= data.len(),
                "error offset {} past the end: {e}",
                e.offset
            );
            let _ = e.to_string();
        }
    }
});
