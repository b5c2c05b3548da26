//! Structure-aware: an arbitrary `OwnedRepr` (nbns-wire's `arbitrary`
//! feature) must emit, parse back, and copy back to the same `OwnedRepr`.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use nbns_wire::wrepl::{OwnedRepr, ParseOptions, Repr};

fuzz_target!(|data: &[u8]| {
    let Ok(owned) = OwnedRepr::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let bytes = owned.to_vec().expect("a generated frame must emit");
    let repr = Repr::parse_bytes(&bytes, ParseOptions::default())
        .unwrap_or_else(|e| panic!("emitted frame does not parse: {e}\n{owned:?}\n{bytes:02x?}"));
    assert_eq!(repr.buffer_len(), bytes.len());
    assert_eq!(OwnedRepr::from_repr(&repr), owned, "{bytes:02x?}");
});
