//! Parse a WINS replication frame, emit it, parse again: same Repr, and a
//! second emit gives the same bytes. Both parse modes (the opcode word's
//! 0x7800 bits required or not).
#![no_main]

use libfuzzer_sys::fuzz_target;
use nbns_wire::wrepl::{OwnedRepr, ParseOptions, Repr};

fuzz_target!(|data: &[u8]| {
    for require_opcode_bits in [true, false] {
        let options = ParseOptions {
            require_opcode_bits,
        };
        let Ok(repr) = Repr::parse_bytes(data, options) else {
            continue;
        };
        let once = repr.to_vec().expect("emit of a parsed Repr");
        assert_eq!(once.len(), repr.buffer_len());
        let again = Repr::parse_bytes(&once, options)
            .unwrap_or_else(|e| panic!("emitted frame does not parse: {e}\n{once:02x?}"));
        assert_eq!(again, repr, "re-parsed Repr differs\n{once:02x?}");
        assert_eq!(again.to_vec().unwrap(), once, "second emit differs");
        // The owned copy builds the same frame.
        let owned = OwnedRepr::from_repr(&repr);
        assert_eq!(
            owned.to_vec().unwrap(),
            once,
            "owned copy emits other bytes"
        );
    }
});
