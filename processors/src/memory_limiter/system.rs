//! What the memory limiter reads from the system: the process's resident memory and the calls
//! that give freed heap memory back to the OS, mimalloc's (the collector's allocator) and
//! glibc's (for C code and custom builds). The total memory that percentages are taken of is
//! [`ferrotel_core::host_memory`].

use super::MemoryProbe;
use std::fs::File;
use std::os::unix::fs::FileExt;

/// The real process: resident set size, and mimalloc's `mi_collect` and glibc's `malloc_trim`
/// to give memory back. The size is the kernel's RSS counter from `/proc/self/statm`, read
/// again through a file kept open (one `pread`: the limiter reads it on admission, up to every
/// millisecond), where `/proc/self/smaps` walks every page table and, read on every admitted
/// request under load, took about 30% of the CPU. Without `/proc`, memory-stats measures.
pub struct ProcessMemory {
    statm: Option<File>,
    page_size: u64,
}

impl ProcessMemory {
    pub fn new() -> Self {
        ProcessMemory {
            statm: File::open("/proc/self/statm").ok(),
            page_size: page_size(),
        }
    }
}

impl Default for ProcessMemory {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryProbe for ProcessMemory {
    fn used(&self) -> Option<u64> {
        let Some(statm) = &self.statm else {
            return memory_stats::memory_stats().map(|s| s.physical_mem as u64);
        };
        let mut buf = [0u8; 160];
        let n = statm.read_at(&mut buf, 0).ok()?;
        Some(resident_pages(&buf[..n])? * self.page_size)
    }

    fn release(&self) {
        mimalloc_collect();
        malloc_trim();
    }
}

/// The second field of `/proc/<pid>/statm`: resident pages.
pub(crate) fn resident_pages(statm: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(statm).ok()?;
    text.split_ascii_whitespace().nth(1)?.parse().ok()
}

/// The size of a memory page (4096 where it cannot be asked).
#[allow(unsafe_code)]
fn page_size() -> u64 {
    // SAFETY: sysconf takes no pointer and only reads a system constant.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(size).ok().filter(|&s| s > 0).unwrap_or(4096)
}

/// Fixes glibc's allocation thresholds (for what glibc allocates: C code, and custom builds
/// without mimalloc) instead of letting them adapt: a block of 4 MiB or more
/// (a large decoded batch or request) gets its own mapping, unmapped as soon as it is freed;
/// smaller ones come from glibc's heaps, which give their free top back past 8 MiB. By default
/// glibc raises both thresholds as large blocks are freed (up to 32 and 64 MiB), after which
/// memory a limiter needs to see go stays resident until a trim. What the heaps keep is given
/// back by `malloc_trim` when usage passes the soft limit. A much lower mapping threshold
/// (128 KiB, tried) makes every batch buffer a fresh mapping whose pages fault in again on every
/// batch: at 10k spans/s (`target/release/compare --scenarios i`) 13k page faults in 10 s
/// against 1.2k, and ~15% more CPU.
#[allow(unsafe_code)]
pub(crate) fn set_malloc_thresholds() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets tuning parameters of glibc's allocator, under its own lock; it
    // takes no pointer and may be called at any time from any thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 8 << 20);
    }
}

/// Gives the pages mimalloc (the collector's allocator) holds free back to the OS at once,
/// instead of after its purge delay. Harmless where mimalloc is not the global allocator: it
/// then holds nothing.
#[allow(unsafe_code)]
fn mimalloc_collect() {
    // SAFETY: mi_collect takes no pointer; it walks mimalloc's own heaps under its own
    // synchronisation and may be called from any thread at any time.
    unsafe {
        libmimalloc_sys::mi_collect(true);
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
        let probe = ProcessMemory::new();
        let used = probe.used().expect("rss readable");
        assert!(used > 0 && used < total, "{used} of {total}");
        // The file kept open is read afresh: 64 MiB touched show at once, as memory-stats sees.
        let block = vec![1u8; 64 << 20];
        let grown = probe.used().unwrap();
        assert!(grown >= used + (60 << 20), "{used} -> {grown}");
        let theirs = memory_stats::memory_stats().unwrap().physical_mem as u64;
        assert!(grown.abs_diff(theirs) < 8 << 20, "{grown} vs {theirs}");
        drop(block);
        probe.release();
    }

    #[test]
    fn statm_gives_resident_pages() {
        assert_eq!(resident_pages(b"9876 1234 567 89 0 4321 0\n"), Some(1234));
        assert_eq!(resident_pages(b"9876"), None);
        assert_eq!(resident_pages(b""), None);
    }
}
