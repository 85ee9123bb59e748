use crate::{ConfigError, ConfigErrors, ExtensionUse, Findings, Validate, Value};
use serde::de::DeserializeOwned;

/// Decodes a raw section into a component's typed config. A missing or empty section (`debug:`)
/// gives the type's `Default`. The error names the full path of the offending key, e.g.
/// `processors.batch/traces.timout: unknown field `timout`, expected one of ...`.
pub fn decode<T: DeserializeOwned + Default>(path: &str, value: &Value) -> Result<T, ConfigErrors> {
    if value.is_null() {
        return Ok(T::default());
    }
    serde_path_to_error::deserialize::<_, T>(value.clone()).map_err(|e| {
        let inner = e.path().to_string();
        let full = if inner == "." || inner.is_empty() {
            path.to_string()
        } else {
            format!("{path}.{inner}")
        };
        ConfigErrors::from(ConfigError::new(
            full,
            clean_message(&e.into_inner().to_string()),
        ))
    })
}

/// [`decode`], then [`Validate`]: the typed config and the extensions it refers to, or every
/// problem found, each with its full path.
pub fn decode_valid<T: DeserializeOwned + Default + Validate>(
    path: &str,
    value: &Value,
) -> Result<(T, Vec<ExtensionUse>), ConfigErrors> {
    let config: T = decode(path, value)?;
    let uses = Findings::of(path, &config).into_result()?;
    Ok((config, uses))
}

/// serde_yaml_ng appends a position that means nothing once documents are merged.
fn clean_message(m: &str) -> String {
    match m.find(" at line ") {
        Some(i) => m[..i].to_string(),
        None => m.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Default, Deserialize)]
    #[serde(deny_unknown_fields, default)]
    struct Inner {
        timeout: crate::GoDuration,
    }
    #[derive(Debug, Default, Deserialize)]
    #[serde(deny_unknown_fields, default)]
    struct Outer {
        inner: Inner,
        size: u32,
    }

    #[test]
    fn errors_carry_paths() {
        let v: Value = serde_yaml_ng::from_str("inner: {timout: 1s}").unwrap();
        let e = decode::<Outer>("processors.batch", &v).unwrap_err();
        assert_eq!(e.0[0].path, "processors.batch.inner.timout");
        assert!(
            e.0[0].message.contains("unknown field `timout`"),
            "{}",
            e.0[0].message
        );
        let v: Value = serde_yaml_ng::from_str("size: -3").unwrap();
        let e = decode::<Outer>("processors.batch", &v).unwrap_err();
        assert_eq!(e.0[0].path, "processors.batch.size");
        let ok = decode::<Outer>("x", &Value::Null).unwrap();
        assert_eq!(ok.size, 0);
    }
}
