//! Evaluation of the common conditions (an attribute compared with a literal, a name, a status
//! code, an enum) allocates nothing: counted with a global allocator.

#![allow(clippy::unwrap_used)]

use ferrotel_core::proto::common::v1::{any_value, AnyValue, KeyValue};
use ferrotel_core::proto::trace::v1::{Span, Status};
use ferrotel_ottl::{Conditions, ErrorMode, SpanContext, SpanItem};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts calls.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn common_conditions_do_not_allocate() {
    let span = Span {
        name: "GET /health".into(),
        kind: 2,
        attributes: vec![KeyValue {
            key: "http.route".into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue("/api".into())),
            }),
            ..Default::default()
        }],
        status: Some(Status {
            code: 1,
            ..Default::default()
        }),
        ..Default::default()
    };
    let conditions = Conditions::<SpanContext>::new(
        &[
            r#"attributes["http.route"] == "/checkout""#,
            r#"name == "GET /" and kind == SPAN_KIND_CLIENT"#,
            "status.code == STATUS_CODE_ERROR",
            r#"attributes["missing"] != nil or IsMatch(name, "^/nope")"#,
            r#"resource.attributes["service.name"] == "x""#,
        ],
        ErrorMode::Propagate,
    )
    .expect("conditions compile");
    let item = SpanItem {
        span: &span,
        scope: None,
        resource: None,
    };
    // Warm up (lazy regex caches allocate on first use).
    assert_eq!(conditions.any(item), Ok(false));
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    for _ in 0..100 {
        assert_eq!(conditions.any(item), Ok(false));
    }
    let allocated = ALLOCATIONS.load(Ordering::SeqCst) - before;
    assert_eq!(allocated, 0, "evaluation allocated {allocated} times");
}
