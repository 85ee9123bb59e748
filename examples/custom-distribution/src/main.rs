//! `my-ferrotel`: every stock ferrotel component plus `tenant` and `drop_health`. Same command
//! line as `ferrotel` (`--config`, `validate`, `components`).

use ferrotel_example_distribution::{drop_health, tenant};

fn main() -> std::process::ExitCode {
    ferrotel::Collector::builder()
        .with_processor(tenant::factory())
        .with_processor(drop_health::factory())
        .run()
}
