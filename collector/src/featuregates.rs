//! `--feature-gates` and `ferrotel featuregate [id]`, as otelcol's: the flag changes the
//! process-wide registry ([`ferrotel_core::featuregate`]) before the configuration is read, and
//! the subcommand prints the table of gates or one gate's details.

use ferrotel_core::featuregate::{Gate, Registry};
use std::fmt::Write;

/// Applies every `--feature-gates` value in order. The notices (a stable gate enabled, a
/// deprecated one disabled) are otelcol's, for stdout; an error names the flag value and every
/// problem in it, as otelcol's flag parsing does.
pub fn apply(registry: &Registry, values: &[String]) -> Result<Vec<String>, String> {
    let mut notices = Vec::new();
    for value in values {
        match registry.apply_flag(value) {
            Ok(n) => notices.extend(n),
            Err(errors) => {
                let all: Vec<String> = errors.iter().map(ToString::to_string).collect();
                return Err(format!(
                    "invalid argument {value:?} for \"--feature-gates\" flag: {}",
                    all.join("; ")
                ));
            }
        }
    }
    Ok(notices)
}

/// otelcol's `featuregate` output: with an id, that gate's details (an unknown id is an error);
/// without, a table of every gate (ID, Enabled, Stage, Description) laid out as Go's tabwriter
/// does with a padding of 2.
pub fn describe(registry: &Registry, id: Option<&str>) -> Result<String, String> {
    match id {
        Some(id) => registry
            .get(id)
            .map(|g| details(&g))
            .ok_or_else(|| format!("feature {id:?} not found")),
        None => Ok(table(&registry.all())),
    }
}

fn details(g: &Gate) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Feature: {}", g.id());
    let _ = writeln!(out, "Enabled: {}", g.is_enabled());
    let _ = writeln!(out, "Stage: {}", g.stage());
    let _ = writeln!(out, "Description: {}", g.description());
    if let Some(v) = g.from_version() {
        let _ = writeln!(out, "From Version: {v}");
    }
    if let Some(v) = g.to_version() {
        let _ = writeln!(out, "To Version: {v}");
    }
    out
}

fn table(gates: &[std::sync::Arc<Gate>]) -> String {
    let mut rows = vec![[
        "ID".to_string(),
        "Enabled".to_string(),
        "Stage".to_string(),
        "Description".to_string(),
    ]];
    rows.extend(gates.iter().map(|g| {
        [
            g.id().to_string(),
            g.is_enabled().to_string(),
            g.stage().to_string(),
            g.description().to_string(),
        ]
    }));
    let width = |c: usize| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0);
    let widths = [width(0), width(1), width(2)];
    let mut out = String::new();
    for r in &rows {
        for (cell, w) in r.iter().zip(widths) {
            let _ = write!(out, "{cell:<w$}  ");
        }
        let _ = writeln!(out, "{}", r[3]);
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ferrotel_core::featuregate::{GateSpec, Stage};

    fn registry() -> Registry {
        let r = Registry::new();
        for spec in [
            GateSpec::new("service.profilesSupport", Stage::Alpha)
                .description("Controls whether profiles support can be enabled")
                .from_version("v0.112.0"),
            GateSpec::new("x.stable", Stage::Stable)
                .description("Done")
                .to_version("v0.130.0"),
        ] {
            r.register(spec).unwrap();
        }
        r
    }

    #[test]
    fn table_is_laid_out_as_tabwriter() {
        assert_eq!(
            describe(&registry(), None).unwrap(),
            "ID                       Enabled  Stage   Description\n\
             service.profilesSupport  false    Alpha   Controls whether profiles support can be enabled\n\
             x.stable                 true     Stable  Done\n"
        );
    }

    #[test]
    fn one_gate_and_an_unknown_one() {
        let r = registry();
        apply(&r, &["service.profilesSupport".into()]).unwrap();
        assert_eq!(
            describe(&r, Some("service.profilesSupport")).unwrap(),
            "Feature: service.profilesSupport\nEnabled: true\nStage: Alpha\n\
             Description: Controls whether profiles support can be enabled\nFrom Version: v0.112.0\n"
        );
        assert_eq!(
            describe(&r, Some("x.stable")).unwrap(),
            "Feature: x.stable\nEnabled: true\nStage: Stable\nDescription: Done\nTo Version: v0.130.0\n"
        );
        assert_eq!(
            describe(&r, Some("nope")).unwrap_err(),
            "feature \"nope\" not found"
        );
    }

    #[test]
    fn flag_errors_name_the_value() {
        let r = registry();
        assert_eq!(
            apply(
                &r,
                &["-service.profilesSupport".into(), "-x.stable,bogus".into()]
            )
            .unwrap_err(),
            "invalid argument \"-x.stable,bogus\" for \"--feature-gates\" flag: feature gate \
             \"x.stable\" is stable, can not be disabled; no such feature gate \"bogus\". valid \
             gates: [service.profilesSupport x.stable]"
        );
        assert_eq!(
            apply(&r, &["x.stable".into()]).unwrap(),
            [
                "Feature gate \"x.stable\" is stable and already enabled. It will be removed in \
              version 0.130.0 and continued use of the gate after version 0.130.0 will result in \
              an error."
            ]
        );
    }
}
