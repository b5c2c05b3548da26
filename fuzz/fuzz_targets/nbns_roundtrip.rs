//! Parse, emit, parse again: the second parse must give the same Repr, and
//! emitting that gives the same bytes again (emit is a fixed point after one
//! trip). Tried with and without compression of record names.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nbns_wire::nbns::{Compression, Repr};

fuzz_target!(|data: &[u8]| {
    let Ok(repr) = Repr::parse_bytes(data) else {
        return;
    };
    for c in [Compression::None, Compression::Question] {
        let mut once = vec![0u8; repr.buffer_len(c)];
        repr.emit(&mut once, c).expect("emit of a parsed Repr");
        let again = Repr::parse_bytes(&once)
            .unwrap_or_else(|e| panic!("emitted bytes do not parse: {e}\n{once:02x?}"));
        assert_eq!(again, repr, "{c:?}: re-parsed Repr differs\n{once:02x?}");
        let mut twice = vec![0u8; again.buffer_len(c)];
        again
            .emit(&mut twice, c)
            .expect("emit of the re-parsed Repr");
        assert_eq!(twice, once, "{c:?}: second emit differs");
    }
    // Without compression (and so without pointers) the byte length is the
    // uncompressed length; with it never more.
    assert!(repr.buffer_len(Compression::Question) <= repr.buffer_len(Compression::None));
});
