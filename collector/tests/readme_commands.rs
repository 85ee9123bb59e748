//! The README's first command, `cargo run --release` at the repository root, must run the
//! collector: the root manifest is a workspace with several binaries, so it resolves only
//! through `default-members`. This runs the same resolution (`cargo run` at the root; the
//! release profile changes how it is built, not which binary runs) and checks the answer.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

#[test]
fn cargo_run_at_the_root_runs_the_collector() {
    let out = cargo()
        .current_dir(workspace_root())
        .args(["run", "--quiet", "--locked", "--", "--version"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "cargo run failed: {stderr}");
    assert!(
        stdout.starts_with(&format!("ferrotel {}", env!("CARGO_PKG_VERSION"))),
        "{stdout}{stderr}"
    );
}

#[test]
fn the_default_member_is_the_collector_with_one_binary() {
    let out = cargo()
        .current_dir(workspace_root())
        .args(["metadata", "--format-version", "1", "--no-deps", "--locked"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let defaults = meta["workspace_default_members"].as_array().unwrap();
    assert_eq!(defaults.len(), 1, "{defaults:?}");
    let id = defaults[0].as_str().unwrap();
    let package = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == id)
        .unwrap();
    assert_eq!(package["name"], "ferrotel");
    let bins: Vec<_> = package["targets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["kind"].as_array().unwrap().iter().any(|k| k == "bin"))
        .collect();
    assert_eq!(
        bins.len(),
        1,
        "cargo run needs exactly one binary: {bins:?}"
    );
}
