//! Untrusted TCP bytes into WINS replication decoding, two ways:
//! * the bytes as one frame: `Frame::new_checked` and `Repr::parse_bytes`
//!   (strict and lenient about the opcode word); whatever parses must emit
//!   exactly `frame_len` bytes;
//! * the bytes as a stream through `FrameSplitter`, pushed in chunks whose
//!   sizes the input's first bytes pick, frames popped after every push: the
//!   frames (and the error, if any) must be the same as when the whole stream
//!   is pushed at once, every frame must pass `Frame::new_checked`, and the
//!   buffer must stay bounded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nbns_wire::wrepl::{Frame, FrameSplitter, ParseOptions, Repr, LENGTH_LEN};
use nbns_wire::Error;
use std::fmt::Write;

fn decode_one(data: &[u8]) {
    let view = Frame::new_checked(data);
    for require_opcode_bits in [true, false] {
        match Repr::parse_bytes(
            data,
            ParseOptions {
                require_opcode_bits,
            },
        ) {
            Ok(repr) => {
                let frame = view.as_ref().expect("parsed a frame that does not check");
                assert_eq!(
                    repr.buffer_len(),
                    frame.frame_len(),
                    "buffer_len != frame length"
                );
                let mut buf = vec![0u8; repr.buffer_len()];
                assert_eq!(repr.emit_bytes(&mut buf), Ok(buf.len()));
                let mut s = String::new();
                write!(s, "{repr}").unwrap();
            }
            Err(e) => assert!(e.offset <= data.len(), "error offset past the end: {e}"),
        }
    }
}

/// Frames and errors popped from a splitter, as owned data.
type Popped = Vec<Result<Vec<u8>, Error>>;

fn pop_all(s: &mut FrameSplitter, out: &mut Popped) {
    let max = s.max_frame_len();
    while let Some(f) = s.next_frame() {
        if let Ok(frame) = &f {
            let view = Frame::new_checked(*frame).expect("splitter frame does not check");
            assert_eq!(view.frame_len(), frame.len());
            assert!(view.length() <= max);
            decode_one(frame);
        }
        out.push(f.map(<[u8]>::to_vec));
    }
}

fuzz_target!(|data: &[u8]| {
    decode_one(data);

    let Some((&[max_sel, chunk_sel], stream)) = data.split_first_chunk::<2>() else {
        return;
    };
    // Small maximum frame lengths reach the oversized-frame path.
    let max = if max_sel & 0x80 != 0 {
        12 + u32::from(max_sel & 0x7f) * 4
    } else {
        nbns_wire::wrepl::DEFAULT_MAX_FRAME_LEN
    };

    let mut whole = FrameSplitter::with_max_frame_len(max);
    whole.push(stream);
    let mut expected = Popped::new();
    pop_all(&mut whole, &mut expected);

    let mut chunked = FrameSplitter::with_max_frame_len(max);
    let mut got = Popped::new();
    let mut rest = stream;
    let mut i = 0usize;
    while !rest.is_empty() {
        // Chunk sizes 1..=16, varied by the selector byte and the position.
        let size = 1 + (usize::from(chunk_sel).wrapping_mul(i + 7) >> 3) % 16;
        let (chunk, tail) = rest.split_at(size.min(rest.len()));
        rest = tail;
        i += 1;
        chunked.push(chunk);
        pop_all(&mut chunked, &mut got);
        assert!(
            chunked.buffered() < max as usize + LENGTH_LEN + chunk.len(),
            "splitter holds {} bytes",
            chunked.buffered()
        );
    }
    assert_eq!(got, expected, "chunked and whole splitting differ");
});
