//! The collector's global allocator: mimalloc, entered through its plain `mi_malloc` /
//! `mi_realloc` whenever the layout's alignment is one mimalloc gives every block anyway.
//!
//! The `mimalloc` crate's `MiMalloc` sends every allocation through `mi_malloc_aligned`, which
//! looks the size class up once more and checks the free block's alignment before taking the
//! same fast path. A block from `mi_malloc` is aligned to 16 bytes, or to its size when that is
//! smaller and a power of two (the rule Rust's own `System` allocator relies on for C's malloc),
//! so layouts within that rule skip the aligned entry; others still use it.
//!
//! ```yaml
//! # Nothing to configure: the allocator is chosen when the binary is built.
//! ```

// The GlobalAlloc impl and its test call mimalloc's C entry points.
#![allow(unsafe_code)]

use libmimalloc_sys as mi;
use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

/// The largest alignment every `mi_malloc` block has (mimalloc's `MI_MAX_ALIGN_SIZE`).
const MALLOC_ALIGN: usize = 16;

/// mimalloc as the global allocator; see the module docs.
#[derive(Debug, Default, Clone, Copy)]
pub struct Allocator;

/// Whether a plain `mi_malloc` block of `size` bytes is aligned enough for `align`.
#[inline(always)]
fn plain(align: usize, size: usize) -> bool {
    align <= MALLOC_ALIGN && align <= size
}

/// A new block for `layout` from mimalloc's plain entry when its blocks are aligned enough,
/// else from the aligned one (`mi_malloc` / `mi_malloc_aligned`, or the zeroing pair).
#[inline(always)]
fn allocate(
    layout: Layout,
    plain_entry: unsafe extern "C" fn(usize) -> *mut c_void,
    aligned_entry: unsafe extern "C" fn(usize, usize) -> *mut c_void,
) -> *mut u8 {
    let (size, align) = (layout.size(), layout.align());
    // SAFETY: mimalloc's allocation entries accept any size; `align` is a power of two.
    unsafe {
        if plain(align, size) {
            plain_entry(size).cast()
        } else {
            aligned_entry(size, align).cast()
        }
    }
}

// SAFETY: every pointer handed out comes from mimalloc and is released or resized through
// mimalloc; plain entries are used only for alignments their blocks have (see `plain`).
unsafe impl GlobalAlloc for Allocator {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        allocate(layout, mi::mi_malloc, mi::mi_malloc_aligned)
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        allocate(layout, mi::mi_zalloc, mi::mi_zalloc_aligned)
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: `ptr` came from this allocator (GlobalAlloc's contract), so from mimalloc.
        unsafe { mi::mi_free(ptr.cast::<c_void>()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let align = layout.align();
        // SAFETY: `ptr` came from mimalloc; the new block keeps `align` by the same rule as
        // `alloc`, and `mi_realloc_aligned` keeps it otherwise.
        unsafe {
            if plain(align, new_size) {
                mi::mi_realloc(ptr.cast::<c_void>(), new_size).cast()
            } else {
                mi::mi_realloc_aligned(ptr.cast::<c_void>(), new_size, align).cast()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every layout the rule sends to the plain entries comes back aligned, across the small
    /// size classes and after growing and shrinking.
    #[test]
    fn plain_blocks_have_the_layouts_alignment() {
        let a = Allocator;
        for align in [1usize, 2, 4, 8, 16, 32, 64] {
            for size in (align..=4096).step_by(align) {
                let layout = Layout::from_size_align(size, align).expect("valid layout");
                // SAFETY: non-zero size; each block is freed once with its own layout.
                unsafe {
                    let p = a.alloc(layout);
                    assert!(
                        !p.is_null() && (p as usize).is_multiple_of(align),
                        "{size}/{align}"
                    );
                    p.write_bytes(0xab, size);
                    let q = a.realloc(p, layout, size * 3);
                    assert!(
                        !q.is_null() && (q as usize).is_multiple_of(align),
                        "{size}/{align} grown"
                    );
                    assert_eq!(*q.add(size - 1), 0xab);
                    let grown = Layout::from_size_align(size * 3, align).expect("valid layout");
                    let z = a.alloc_zeroed(layout);
                    assert!((z as usize).is_multiple_of(align) && *z.add(size - 1) == 0);
                    a.dealloc(z, layout);
                    a.dealloc(q, grown);
                }
            }
        }
    }
}
