//! Where the lines of a header section end: the line feeds of 64 bytes at a time as a bitmap,
//! read a set bit a line.
//!
//! The split asks for the next line feed once a line, always further on. A search per line
//! (memchr's AVX2 routine) costs its call, its set-up and its tail on every line; here the
//! bytes are compared 16 at a time (SSE2, part of every x86-64) once, and each line then costs
//! a shift and a `trailing_zeros`. The SIMD comes from [`safe_arch`], which wraps the
//! `core::arch` intrinsics of the target features the build enables in safe functions, so that
//! this crate keeps `#![forbid(unsafe_code)]`. Other targets build the same bitmap a byte at a
//! time ([`block_scalar`]), which the tests hold the SIMD one to.

/// The line feeds of one buffer, found 64 bytes a step as the split walks forward.
pub(crate) struct LineEnds<'a> {
    buf: &'a [u8],
    /// Where the block of `bits` starts.
    base: usize,
    /// Bit `i` is set when `buf[base + i]` is a line feed; bits past the buffer's end are clear.
    bits: u64,
}

/// Bytes a block of the bitmap covers.
const BLOCK: usize = 64;

impl<'a> LineEnds<'a> {
    /// The first block read: the split's first search is for the end of the start line.
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self {
            buf,
            base: 0,
            bits: block(buf, 0),
        }
    }

    /// The offset of the first line feed of `buf[from..to]`, as `memchr` of that range gives
    /// it. Each block is read once while the searches go forward; a search that starts before
    /// the current block reads from where it starts. `to` is clamped to the buffer.
    #[inline(always)]
    pub(crate) fn find(&mut self, from: usize, to: usize) -> Option<usize> {
        let to = to.min(self.buf.len());
        let mut at = from;
        // Within the current block (wrapping: `at` before `base` is far out of it).
        let mut skip = at.wrapping_sub(self.base);
        loop {
            if skip >= BLOCK {
                if at >= to {
                    return None;
                }
                self.base = at;
                self.bits = block(self.buf, at);
                skip = 0;
            }
            let found = self.bits >> skip;
            if found != 0 {
                let lf = at + found.trailing_zeros() as usize;
                return (lf < to).then_some(lf);
            }
            // Nothing in the rest of this block: the next one starts where this one ends.
            at = self.base + BLOCK;
            skip = BLOCK;
        }
    }
}

/// The bitmap of line feeds in `buf[at..at + 64]` (bits past the end of `buf` clear).
#[inline(always)]
fn block(buf: &[u8], at: usize) -> u64 {
    match buf.get(at..at + BLOCK) {
        Some(whole) => block_of(whole.try_into().unwrap_or(&[0; BLOCK])),
        None => last_block(buf, at),
    }
}

/// The bitmap of `buf[at..]`, fewer than a block's bytes: the buffer's last block, shifted
/// down to `at` (no line feed past the end); a buffer shorter than a block is copied into a
/// block of zeros.
#[inline(never)]
fn last_block(buf: &[u8], at: usize) -> u64 {
    match buf.len().checked_sub(BLOCK) {
        Some(last) if at >= last => {
            let whole = buf.get(last..).and_then(|b| b.try_into().ok());
            let bits = block_of(whole.unwrap_or(&[0; BLOCK]));
            bits.checked_shr((at - last) as u32).unwrap_or(0)
        }
        _ => {
            let rest = buf.get(at..).unwrap_or_default();
            let mut tail = [0; BLOCK];
            let n = rest.len().min(BLOCK);
            tail[..n].copy_from_slice(&rest[..n]);
            block_of(&tail)
        }
    }
}

/// The bitmap of line feeds in `block`, 16 bytes a step with SSE2.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline(always)]
fn block_of(block: &[u8; BLOCK]) -> u64 {
    use safe_arch::{
        cmp_eq_mask_i8_m128i, load_unaligned_m128i, move_mask_i8_m128i, set_splat_i8_m128i,
    };
    let lf = set_splat_i8_m128i(b'\n' as i8);
    let mut bits = 0;
    for (i, lane) in block.chunks_exact(16).enumerate() {
        let lane: &[u8; 16] = lane.try_into().unwrap_or(&[0; 16]);
        let eq = cmp_eq_mask_i8_m128i(load_unaligned_m128i(lane), lf);
        // The mask has 16 bits: no sign extension past them.
        bits |= u64::from(move_mask_i8_m128i(eq) as u16) << (16 * i);
    }
    bits
}

/// The bitmap of line feeds in `block`, elsewhere.
#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
#[inline(always)]
fn block_of(block: &[u8; BLOCK]) -> u64 {
    block_scalar(block)
}

/// The bitmap of line feeds in `block`, a byte at a time: the portable form, and the reference
/// the SIMD form is tested against.
#[cfg_attr(all(target_arch = "x86_64", target_feature = "sse2"), allow(dead_code))]
fn block_scalar(block: &[u8; BLOCK]) -> u64 {
    block
        .iter()
        .enumerate()
        .fold(0, |bits, (i, &c)| bits | (u64::from(c == b'\n') << i))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Bytes where line feeds are common, among every other byte value (≥ 0x80 included).
    fn bytes() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(
            prop_oneof![
                3 => Just(b'\n'),
                1 => Just(b'\r'),
                1 => Just(b':'),
                6 => any::<u8>(),
            ],
            0..300,
        )
    }

    proptest! {
        /// Every block the split can read: the SIMD bitmap is the byte-at-a-time one.
        #[test]
        fn the_block_is_the_scalar_block(buf in prop::collection::vec(any::<u8>(), BLOCK), lf in prop::collection::vec(0..BLOCK, 0..20)) {
            let mut buf: [u8; BLOCK] = buf.try_into().unwrap();
            for i in lf {
                buf[i] = b'\n';
            }
            prop_assert_eq!(block_of(&buf), block_scalar(&buf));
        }

        /// Searches going forward, as the split makes them, and some going back: each answers
        /// as `memchr` of its range, at every length and every offset of a block.
        #[test]
        fn every_search_is_memchr_of_its_range(
            buf in bytes(),
            steps in prop::collection::vec((0usize..80, 0usize..120, any::<bool>()), 1..20),
        ) {
            let mut ends = LineEnds::new(&buf);
            let mut from: usize = 0;
            for (ahead, len, back) in steps {
                from = if back { from.saturating_sub(ahead) } else { from + ahead };
                let to = from + len;
                let want = buf
                    .get(from..to.min(buf.len()))
                    .and_then(|range| memchr::memchr(b'\n', range))
                    .map(|i| from + i);
                prop_assert_eq!(ends.find(from, to), want, "{}..{}", from, to);
                if let Some(lf) = want {
                    from = lf + 1;
                }
            }
        }
    }

    #[test]
    fn the_last_block_has_no_line_feed_past_the_end() {
        let buf = b"a\r\nb\r\n";
        let mut ends = LineEnds::new(buf);
        assert_eq!(ends.find(0, 100), Some(2));
        assert_eq!(ends.find(3, 100), Some(5));
        assert_eq!(ends.find(6, 100), None);
        assert_eq!(ends.find(0, 2), None);
        assert_eq!(LineEnds::new(b"").find(0, 10), None);
    }
}
