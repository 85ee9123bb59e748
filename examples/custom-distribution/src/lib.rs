//! Two custom processors, each a complete example of the extension API (docs/extending.md):
//!
//! - [`tenant`]: copies a request header into a resource attribute (multi-tenant routing);
//! - [`drop_health`]: drops health-check spans before they cost anything downstream.
//!
//! `src/main.rs` builds a distribution with them and every stock component.

pub mod drop_health;
pub mod tenant;
