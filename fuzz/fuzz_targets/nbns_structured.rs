//! Structure-aware: an arbitrary `Repr` (built by nbns-wire's `arbitrary`
//! feature so that it is always expressible) must emit and parse back equal.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use nbns_wire::nbns::{Compression, Repr};

fuzz_target!(|data: &[u8]| {
    let Ok(repr) = Repr::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    repr.validate().expect("generated Repr must validate");
    for c in [Compression::None, Compression::Question] {
        let len = repr.buffer_len(c);
        let mut buf = vec![0u8; len];
        assert_eq!(repr.emit(&mut buf, c), Ok(len));
        let parsed = Repr::parse_bytes(&buf).unwrap_or_else(|e| {
            panic!("{c:?}: emitted bytes do not parse: {e}\n{repr:?}\n{buf:02x?}")
        });
        assert_eq!(parsed, repr, "{c:?}: parsed Repr differs\n{buf:02x?}");
    }
});
