//! What the memory limiter reads from the system: the process's resident memory and the call
//! that gives freed heap memory back to the OS (the total memory percentages are taken of is
//! [`ferrotel_core::host_memory`]).

use super::MemoryProbe;

/// The real process: resident set size, and glibc's `malloc_trim` to give memory back. The
/// size is the kernel's RSS counter from `/proc/self/statm` (memory-stats' `always_use_statm`):
/// a few microseconds to read, where `/proc/self/smaps` walks every page table and, read
/// on every admitted request under load, took about 30% of the CPU.
pub struct ProcessMemory;

impl MemoryProbe for ProcessMemory {
    fn used(&self) -> Option<u64> {
        memory_stats::memory_stats().map(|s| s.physical_mem as u64)
    }

    fn release(&self) {
        malloc_trim();
    }
}

/// Makes glibc serve every allocation of 128 KiB or more (request bodies, decoded batches,
/// encode buffers) with its own mapping, unmapped as soon as it is freed. By default glibc
/// raises that threshold as large blocks are freed (up to 32 MiB), after which they come from
/// its heaps and stay resident until a trim: exactly the memory a limiter needs to see go.
#[allow(unsafe_code)]
pub(crate) fn return_large_blocks_on_free() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a tuning parameter of glibc's allocator, under its own lock;
    // it takes no pointer and may be called at any time from any thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

/// Returns the free pages at the top of glibc's heaps and in its arenas to the OS. A no-op
/// where the allocator is not glibc's.
#[allow(unsafe_code)]
fn malloc_trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointer from us; it only walks glibc's own allocator state
    // under glibc's arena locks, and is documented as safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrotel_core::host_memory::total_memory;

    #[test]
    fn reads_this_machine() {
        let total = total_memory().expect("linux test machines have /proc/meminfo");
        let used = ProcessMemory.used().expect("rss readable");
        assert!(used > 0 && used < total, "{used} of {total}");
        ProcessMemory.release();
    }
}
