//! The `ferrotel` binary: the stock components and the command line.

/// mimalloc rather than the system's malloc: the pipeline allocates and frees many small
/// strings per span (decoded attributes) across worker threads, where glibc's arenas spent up
/// to a third of the CPU (perf of bench scenario (t)).
#[global_allocator]
static ALLOCATOR: ferrotel::Allocator = ferrotel::Allocator;

fn main() {
    std::process::exit(ferrotel::main_with(ferrotel::components::builtin()));
}
