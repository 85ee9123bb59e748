//! `my-ferrotel`: every stock ferrotel component plus `tenant` and `drop_health`. Same command
//! line as `ferrotel` (`--config`, `validate`, `components`).

use ferrotel_example_distribution::{drop_health, tenant};

/// The allocator of the `ferrotel` binary, for the same cost per span.
#[global_allocator]
static ALLOCATOR: ferrotel::Allocator = ferrotel::Allocator;

fn main() -> std::process::ExitCode {
    ferrotel::Collector::builder()
        .named(
            "my-ferrotel",
            env!("CARGO_PKG_VERSION"),
            "ferrotel with the tenant and drop_health processors",
        )
        .with(tenant::factory())
        .with(drop_health::factory())
        .run()
}
