//! The stock components: each kind crate's registration list (one line per component, each
//! behind a cargo feature of that crate).

use ferrotel_core::Registry;

/// Every component type this binary knows.
pub fn builtin() -> Registry {
    let registry = Registry::default();
    let registry = ferrotel_receivers::register(registry);
    let registry = ferrotel_processors::register(registry);
    let registry = ferrotel_exporters::register(registry);
    let registry = ferrotel_connectors::register(registry);
    ferrotel_extensions::register(registry)
}
