//! The routing connector's example configs (`connectors/testdata/routing`), among them otelcol's
//! README examples (by tenant header, by log region), load in the built binary's `validate`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

fn validate(name: &str) -> Output {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../connectors/testdata/routing")
        .join(name);
    Command::new(env!("CARGO_BIN_EXE_ferrotel"))
        .arg("validate")
        .arg("--config")
        .arg(file)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run ferrotel")
}

#[test]
fn the_readme_examples_and_a_traces_table_load() {
    for name in [
        "readme_tenant.yaml",
        "readme_region.yaml",
        "traces_service.yaml",
    ] {
        let out = validate(name);
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
