//! Per-direction TCP stream reassembly, ordered by sequence number.
//!
//! Each direction of a connection (source and destination address and port)
//! is one [`Stream`]. Segments that arrive in order are delivered at once;
//! segments from the future wait in a bounded buffer until the hole before
//! them is filled; retransmitted and overlapping bytes are delivered once.
//! A hole that is never filled (a packet the capture missed) becomes a
//! [`Delivery::Gap`] when the buffer overflows or the stream ends, and the
//! stream carries on after it.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;

/// Bytes of out-of-order data kept per stream before giving up on a hole.
pub const MAX_PENDING_BYTES: usize = 1024 * 1024;
/// Out-of-order segments kept per stream.
pub const MAX_PENDING_SEGMENTS: usize = 4096;

/// What a segment makes available, in stream order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// In-order bytes starting at stream offset `offset`.
    Data { offset: u64, bytes: Vec<u8> },
    /// `missing` bytes at stream offset `offset` were never captured.
    Gap { offset: u64, missing: u64 },
}

/// One direction of a TCP connection.
#[derive(Debug, Default)]
pub struct Stream {
    /// Sequence number of the next byte to deliver, once known.
    next_seq: Option<u32>,
    /// Stream offset of `next_seq`.
    delivered: u64,
    /// Out-of-order data by stream offset.
    pending: BTreeMap<u64, Vec<u8>>,
    pending_bytes: usize,
}

impl Stream {
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes delivered so far (gaps included).
    pub fn offset(&self) -> u64 {
        self.delivered
    }

    /// Takes one segment; returns what became deliverable.
    pub fn segment(&mut self, seq: u32, syn: bool, payload: &[u8]) -> Vec<Delivery> {
        let mut out = Vec::new();
        // SYN takes one sequence number before the data.
        let data_seq = if syn { seq.wrapping_add(1) } else { seq };
        let next = match self.next_seq {
            Some(n) => n,
            None if syn || !payload.is_empty() => {
                // The first segment seen fixes the start of the stream. (A
                // capture started mid-connection begins wherever it begins.)
                self.next_seq = Some(data_seq);
                data_seq
            }
            None => return out,
        };
        if payload.is_empty() {
            return out;
        }
        // Position relative to the next expected byte, wrap-safe.
        let rel = data_seq.wrapping_sub(next) as i32 as i64;
        let end = rel + payload.len() as i64;
        if end <= 0 {
            return out; // entirely old: a retransmission
        }
        if rel <= 0 {
            let fresh = &payload[(-rel) as usize..];
            self.deliver(fresh.to_vec(), &mut out);
            self.drain(&mut out);
        } else {
            let at = self.delivered + rel as u64;
            let keep = match self.pending.get(&at) {
                Some(old) => old.len() < payload.len(),
                None => true,
            };
            if keep {
                if let Some(old) = self.pending.insert(at, payload.to_vec()) {
                    self.pending_bytes -= old.len();
                }
                self.pending_bytes += payload.len();
            }
            if self.pending_bytes > MAX_PENDING_BYTES || self.pending.len() > MAX_PENDING_SEGMENTS {
                self.skip_hole(&mut out);
            }
        }
        out
    }

    /// The stream ended (FIN, RST or end of capture): any hole is final.
    pub fn finish(&mut self) -> Vec<Delivery> {
        let mut out = Vec::new();
        while !self.pending.is_empty() {
            self.skip_hole(&mut out);
        }
        out
    }

    fn deliver(&mut self, bytes: Vec<u8>, out: &mut Vec<Delivery>) {
        if bytes.is_empty() {
            return;
        }
        let n = bytes.len() as u64;
        out.push(Delivery::Data {
            offset: self.delivered,
            bytes,
        });
        self.delivered += n;
        if let Some(s) = self.next_seq.as_mut() {
            *s = s.wrapping_add(n as u32);
        }
    }

    /// Delivers pending segments that now start at or before the next byte.
    fn drain(&mut self, out: &mut Vec<Delivery>) {
        while let Some(entry) = self.pending.first_entry() {
            let at = *entry.key();
            if at > self.delivered {
                break;
            }
            let bytes = entry.remove();
            self.pending_bytes -= bytes.len();
            let skip = (self.delivered - at) as usize;
            if skip < bytes.len() {
                self.deliver(bytes[skip..].to_vec(), out);
            }
        }
    }

    /// Declares the hole before the first pending segment lost and resumes there.
    fn skip_hole(&mut self, out: &mut Vec<Delivery>) {
        let Some((&at, _)) = self.pending.first_key_value() else {
            return;
        };
        if at > self.delivered {
            let missing = at - self.delivered;
            out.push(Delivery::Gap {
                offset: self.delivered,
                missing,
            });
            self.delivered = at;
            if let Some(s) = self.next_seq.as_mut() {
                *s = s.wrapping_add(missing as u32);
            }
        }
        self.drain(out);
    }
}

/// A direction of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowKey {
    pub src: SocketAddr,
    pub dst: SocketAddr,
}

/// A stream closed to make room, with its key and state.
pub type Evicted<S> = (FlowKey, (Stream, S));

/// All streams of a capture, with a bound on how many are open at once.
#[derive(Debug)]
pub struct Streams<S> {
    pub max_streams: usize,
    map: HashMap<FlowKey, (Stream, S)>,
    /// Insertion order, to close the oldest stream when the bound is hit.
    order: Vec<FlowKey>,
}

impl<S> Streams<S> {
    pub fn new(max_streams: usize) -> Self {
        Streams {
            max_streams: max_streams.max(1),
            map: HashMap::new(),
            order: Vec::new(),
        }
    }

    /// The stream for `key`, creating it with `make`. When the bound is hit,
    /// the oldest open stream is removed first and returned so the caller can
    /// finish it.
    pub fn get_or_open(
        &mut self,
        key: FlowKey,
        make: impl FnOnce() -> S,
    ) -> (&mut (Stream, S), Option<Evicted<S>>) {
        let mut evicted = None;
        if !self.map.contains_key(&key) {
            if self.map.len() >= self.max_streams {
                self.order.retain(|k| self.map.contains_key(k));
                if !self.order.is_empty() {
                    let old = self.order.remove(0);
                    evicted = self.map.remove(&old).map(|s| (old, s));
                }
            }
            self.order.push(key);
            self.map.insert(key, (Stream::new(), make()));
        }
        let entry = self.map.get_mut(&key).expect("inserted above");
        (entry, evicted)
    }

    /// Removes a stream (after FIN or RST).
    pub fn close(&mut self, key: &FlowKey) -> Option<(Stream, S)> {
        let s = self.map.remove(key);
        if s.is_some() {
            self.order.retain(|k| k != key);
        }
        s
    }

    /// Removes every stream, oldest first.
    pub fn drain_all(&mut self) -> Vec<(FlowKey, (Stream, S))> {
        let order = std::mem::take(&mut self.order);
        let mut out = Vec::new();
        for k in order {
            if let Some(s) = self.map.remove(&k) {
                out.push((k, s));
            }
        }
        // Anything not in `order` (cannot happen, but never lose a stream).
        out.extend(self.map.drain());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(d: &[Delivery]) -> Vec<u8> {
        d.iter()
            .flat_map(|x| match x {
                Delivery::Data { bytes, .. } => bytes.clone(),
                Delivery::Gap { .. } => b"?".to_vec(),
            })
            .collect()
    }

    #[test]
    fn in_order_out_of_order_and_retransmitted() {
        let mut s = Stream::new();
        assert!(s.segment(1000, true, b"").is_empty());
        assert_eq!(data(&s.segment(1001, false, b"abc")), b"abc");
        // Out of order: "ghi" before "def".
        assert!(s.segment(1007, false, b"ghi").is_empty());
        assert_eq!(data(&s.segment(1004, false, b"def")), b"defghi");
        // Retransmission of old bytes, and an overlap.
        assert!(s.segment(1001, false, b"abc").is_empty());
        assert_eq!(data(&s.segment(1008, false, b"hijk")), b"jk");
        assert_eq!(s.offset(), 11);
    }

    #[test]
    fn sequence_numbers_wrap() {
        let mut s = Stream::new();
        s.segment(u32::MAX - 1, true, b"");
        assert_eq!(data(&s.segment(u32::MAX, false, b"ab")), b"ab");
        assert_eq!(data(&s.segment(1, false, b"cd")), b"cd");
    }

    #[test]
    fn holes_become_gaps_at_the_end() {
        let mut s = Stream::new();
        assert_eq!(data(&s.segment(10, false, b"ab")), b"ab");
        assert!(s.segment(20, false, b"xy").is_empty());
        let d = s.finish();
        assert_eq!(
            d[0],
            Delivery::Gap {
                offset: 2,
                missing: 8
            }
        );
        assert_eq!(data(&d), b"?xy");
    }

    #[test]
    fn pending_data_is_bounded() {
        let mut s = Stream::new();
        s.segment(0, false, b"a");
        let chunk = vec![0u8; 64 * 1024];
        let mut gaps = 0;
        for i in 0..40u32 {
            for d in s.segment(10 + i * chunk.len() as u32, false, &chunk) {
                if matches!(d, Delivery::Gap { .. }) {
                    gaps += 1;
                }
            }
            assert!(s.pending_bytes <= MAX_PENDING_BYTES + chunk.len());
        }
        assert_eq!(gaps, 1);
    }
}
