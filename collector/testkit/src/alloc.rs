//! A global allocator that counts allocations, for tests that assert a path allocates nothing
//! (or no more for more input). Install it in the test binary, then compare [`allocations`]
//! before and after:
//!
//! ```ignore
//! #[global_allocator]
//! static GLOBAL: ferrotel_testkit::alloc::Counting = ferrotel_testkit::alloc::Counting;
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The system allocator, counting each thread's allocations.
pub struct Counting;

thread_local! {
    // Const-initialised: reading it never allocates.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

/// Allocations so far by the calling thread (so tests running in parallel threads do not
/// count each other's).
pub fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

// SAFETY: forwards to the system allocator unchanged; only counts calls.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // try_with: the thread's counter may already be gone while the thread exits.
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}
