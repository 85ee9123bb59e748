//! The `heroku` detector: the dyno metadata Heroku publishes in environment variables
//! (`HEROKU_DYNO_ID`, `HEROKU_APP_ID`, `HEROKU_APP_NAME`, `HEROKU_RELEASE_CREATED_AT`,
//! `HEROKU_RELEASE_VERSION`, `HEROKU_SLUG_COMMIT`). Without `HEROKU_DYNO_ID` it finds nothing.
//!
//! ```yaml
//! resource_detection:
//!   detectors: [env, heroku]
//!   heroku:
//!     resource_attributes:
//!       service.version: { enabled: false }
//! ```

use super::attrs::{Builder, Detected, HEROKU};
use super::config::HerokuConfig;
use super::SCHEMA_URL;

/// Detects from the process environment.
pub fn detect(cfg: &HerokuConfig) -> Detected {
    detect_from(cfg, |k| std::env::var(k).ok())
}

/// Detects from `var`, a lookup of environment variables.
pub fn detect_from(cfg: &HerokuConfig, var: impl Fn(&str) -> Option<String>) -> Detected {
    let Some(dyno) = var("HEROKU_DYNO_ID") else {
        return Detected::default();
    };
    let mut b = Builder::new(&cfg.resource_attributes, HEROKU, SCHEMA_URL);
    b.str("cloud.provider", "heroku");
    b.str("service.instance.id", dyno.clone());
    b.str("heroku.dyno.id", dyno);
    for (env, attr) in [
        ("HEROKU_APP_ID", "heroku.app.id"),
        ("HEROKU_APP_NAME", "service.name"),
        (
            "HEROKU_RELEASE_CREATED_AT",
            "heroku.release.creation_timestamp",
        ),
        ("HEROKU_RELEASE_VERSION", "service.version"),
        ("HEROKU_SLUG_COMMIT", "heroku.release.commit"),
    ] {
        if let Some(v) = var(env) {
            b.str(attr, v);
        }
    }
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_dyno_metadata() {
        let env = |k: &str| {
            let v = match k {
                "HEROKU_DYNO_ID" => "dyno-1",
                "HEROKU_APP_NAME" => "shop",
                "HEROKU_RELEASE_VERSION" => "v42",
                "HEROKU_SLUG_COMMIT" => "abc123",
                _ => return None,
            };
            Some(v.to_string())
        };
        let d = detect_from(&HerokuConfig::default(), env);
        let keys: Vec<&str> = d.attributes.iter().map(|kv| kv.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "cloud.provider",
                "service.instance.id",
                "heroku.dyno.id",
                "service.name",
                "service.version",
                "heroku.release.commit"
            ]
        );
        assert_eq!(
            detect_from(&HerokuConfig::default(), |_| None),
            Detected::default()
        );
    }
}
