//! The routing connector's example configs (`connectors/testdata/routing`), among them otelcol's
//! README examples, through the built binary's `validate`: those ferrotel supports load, and the
//! one using the `log` context (not yet ferrotel's) is refused naming the key.

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
fn the_readme_tenant_example_and_a_traces_table_load() {
    for name in ["readme_tenant.yaml", "traces_service.yaml"] {
        let out = validate(name);
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn the_log_context_is_refused_naming_the_key() {
    let out = validate("readme_region.yaml");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "connectors.routing.table[0].context: the \"log\" context is not yet supported"
        ),
        "{err}"
    );
}
