//! Cost per span of OTTL statements, evaluated on decoded spans the way the transform
//! processor runs them (`Statements::execute` per span, 1000 spans per iteration): one `set`
//! with a `where`, the same with nine more statements (so the cost of an extra statement is
//! (ten - one) / 9), a `where` that never holds, and the demo's redaction group. Targets
//! (issue #16): at most 0.1 µs for one `set` with a `where`, at most 0.05 µs per extra
//! statement. Run: `cargo bench -p ferrotel-bench --bench ottl`.

/// The collector's allocator (collector/src/main.rs), so costs are measured as the binary pays them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ferrotel_core::proto::common::v1::{any_value, AnyValue, KeyValue};
use ferrotel_core::proto::resource::v1::Resource;
use ferrotel_core::proto::trace::v1::Span;
use ferrotel_ottl::{ErrorMode, SpanContext, SpanItemMut, Statements};

const SPANS: usize = 1000;

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

fn spans() -> Vec<Span> {
    (0..SPANS)
        .map(|i| Span {
            name: "GET /api/orders/{id}".into(),
            kind: 2,
            attributes: vec![
                kv("http.request.method", "GET"),
                kv("http.route", "/api/orders/{id}"),
                kv("url.full", "https://shop.example/api/orders/42?page=2"),
                kv("user_agent.original", "Mozilla/5.0 (X11; Linux x86_64)"),
                kv("server.address", "shop.example"),
                kv("demo.payment.card_number", "4432-8015-6152-0454"),
                kv("peer.service", if i % 2 == 0 { "cart" } else { "checkout" }),
                kv("net.host.name", "node-1"),
            ],
            ..Default::default()
        })
        .collect()
}

const ONE: &str =
    r#"set(attributes["env"], "prod") where attributes["http.route"] == "/api/orders/{id}""#;

const NINE_MORE: [&str; 9] = [
    r#"set(attributes["tier"], "web") where kind == SPAN_KIND_SERVER"#,
    r#"delete_key(attributes, "net.host.name")"#,
    r#"set(attributes["region"], "eu-west-1")"#,
    r#"set(status.code, STATUS_CODE_ERROR) where attributes["http.response.status_code"] >= 500"#,
    r#"set(attributes["route.copy"], attributes["http.route"]) where attributes["http.route"] != nil"#,
    r#"delete_key(attributes, "debug.info") where attributes["debug.info"] != nil"#,
    r#"set(attributes["peer"], attributes["peer.service"]) where attributes["peer.service"] == "cart""#,
    r#"set(name, "GET /api/orders/{id}") where name == "GET /api/orders/{id}""#,
    r#"set(attributes["sampled"], true)"#,
];

const NEVER: &str = r#"set(attributes["x"], "y") where attributes["http.route"] == "/health""#;

const REDACTION: [&str; 3] = [
    r#"delete_key(attributes, "demo.payment.card_cvv") where attributes["demo.payment.card_cvv"] != nil"#,
    r#"delete_key(attributes, "user.email") where attributes["user.email"] != nil"#,
    r#"replace_pattern(attributes["demo.payment.card_number"], "^\\d{4}-\\d{4}-\\d{4}-", "****-****-****-") where attributes["demo.payment.card_number"] != nil"#,
];

fn bench_statements(c: &mut Criterion, name: &str, texts: &[&str]) {
    let st = Statements::<SpanContext>::new(texts, &[] as &[&str], ErrorMode::Propagate)
        .unwrap_or_else(|e| panic!("{e:?}"));
    let spans = spans();
    let mut scope = None;
    let mut resource = Some(Resource::default());
    let mut cache = Vec::new();
    let mut g = c.benchmark_group("ottl");
    g.throughput(Throughput::Elements(SPANS as u64));
    // Each iteration gets fresh spans (copied outside the measurement), so a `set` adds its
    // attribute as it does on live data instead of overwriting the last iteration's.
    g.bench_function(name, |b| {
        b.iter_batched_ref(
            || spans.clone(),
            |spans| {
                for span in spans.iter_mut() {
                    cache.clear();
                    let item = &mut SpanItemMut {
                        cache: &mut cache,
                        span,
                        scope: &mut scope,
                        resource: &mut resource,
                    };
                    if let Err(e) = st.execute(item) {
                        panic!("{e}");
                    }
                }
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn ottl(c: &mut Criterion) {
    bench_statements(c, "one_set_with_where", &[ONE]);
    let ten: Vec<&str> = std::iter::once(ONE).chain(NINE_MORE).collect();
    bench_statements(c, "ten_statements", &ten);
    bench_statements(c, "where_never_holds", &[NEVER]);
    bench_statements(c, "demo_redaction", &REDACTION);
}

criterion_group!(benches, ottl);
criterion_main!(benches);
