//! A global allocator that counts heap allocations, to check the "at most one allocation per
//! parsed message, none for typed views" target.
//!
//! Install it in a binary with
//! `#[global_allocator] static ALLOC: CountingAlloc = CountingAlloc;`
//! and read [`allocations`] before and after the code under test.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static LIVE_BYTES: AtomicI64 = AtomicI64::new(0);
static PEAK_BYTES: AtomicI64 = AtomicI64::new(0);
static TRACK_PEAK: AtomicBool = AtomicBool::new(false);

/// [`System`] plus a counter of `alloc`, `alloc_zeroed` and `realloc` calls (a `realloc` may move
/// the block, so it counts as an allocation), and of the bytes allocated and not yet freed.
#[derive(Debug, Clone, Copy, Default)]
pub struct CountingAlloc;

/// Allocations made so far by every thread, when [`CountingAlloc`] is the global allocator.
pub fn allocations() -> u64 {
    ALLOCATIONS.load(Ordering::Relaxed)
}

/// Bytes allocated and not yet freed, by every thread, when [`CountingAlloc`] is the global
/// allocator (requested sizes, without the allocator's own overhead).
pub fn live_bytes() -> i64 {
    LIVE_BYTES.load(Ordering::Relaxed)
}

/// Starts tracking the peak of [`live_bytes`] from now (off until first called, so that the
/// benches timing allocations pay nothing for it): [`peak_bytes`] is the live bytes now, and
/// then the most held at once.
pub fn reset_peak() {
    TRACK_PEAK.store(true, Ordering::Relaxed);
    PEAK_BYTES.store(live_bytes(), Ordering::Relaxed);
}

/// The most bytes live at once since [`reset_peak`] (0 before it was ever called). Blocks
/// freed by another thread at the same moment may make it a little high, never low.
pub fn peak_bytes() -> i64 {
    PEAK_BYTES.load(Ordering::Relaxed)
}

/// Adds `delta` to the live bytes, and raises the peak to them when tracked.
fn grow(delta: i64) {
    let live = LIVE_BYTES.fetch_add(delta, Ordering::Relaxed) + delta;
    if TRACK_PEAK.load(Ordering::Relaxed) {
        PEAK_BYTES.fetch_max(live, Ordering::Relaxed);
    }
}

fn size(bytes: usize) -> i64 {
    i64::try_from(bytes).unwrap_or(i64::MAX)
}

#[allow(
    unsafe_code,
    reason = "GlobalAlloc is an unsafe trait; every call forwards to System"
)]
// SAFETY: each method forwards its arguments unchanged to `System`, which upholds the
// `GlobalAlloc` contract; the counter has no effect on the memory returned.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        grow(size(layout.size()));
        // SAFETY: the caller upholds `alloc`'s contract (non-zero size), passed on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        grow(size(layout.size()));
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(size(layout.size()), Ordering::Relaxed);
        // SAFETY: `ptr` was returned by this allocator, i.e. by `System`, with this `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        grow(size(new_size) - size(layout.size()));
        // SAFETY: `ptr` and `layout` come from `System` as above; the caller guarantees
        // `new_size` is valid for `layout.align()`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
