//! Cost per entry of the `filelog` operators (stanza-style), run the way the receiver runs
//! them (`Pipeline::run` per entry, 1000 entries per iteration): the RFC 5424 and RFC 3164
//! syslog parsers, the CSV and key-value parsers, a router on an expression into a JSON
//! parser, and recombine joining a stack trace. Run:
//! `cargo bench -p ferrotel-bench --bench file_log_operators`.

/// The collector's allocator (collector/src/main.rs), so costs are measured as the binary pays them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ferrotel_receivers::file_log::operators::{build, config::OperatorConfig, Entry, Pipeline};
use serde_json::Value;

const ENTRIES: usize = 1000;

fn pipeline(yaml: &str) -> Pipeline {
    let configs: Vec<OperatorConfig> = match serde_yaml_ng::from_str(yaml) {
        Ok(c) => c,
        Err(e) => panic!("bench config: {e}"),
    };
    match build(&configs) {
        Ok(p) => p,
        Err(e) => panic!("bench config: {e}"),
    }
}

fn lines(f: impl Fn(usize) -> String) -> Vec<Entry> {
    (0..ENTRIES)
        .map(|i| Entry::new(Value::String(f(i)), 1))
        .collect()
}

fn bench_one(c: &mut Criterion, name: &str, yaml: &str, input: Vec<Entry>) {
    let p = pipeline(yaml);
    let mut g = c.benchmark_group("file_log_operators");
    g.throughput(Throughput::Elements(ENTRIES as u64));
    g.bench_function(name, |b| {
        b.iter_batched(
            || input.clone(),
            |entries| {
                let mut out = Vec::with_capacity(ENTRIES);
                for e in entries {
                    p.run(e, &mut out);
                }
                p.flush_all(&mut out);
                out
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn operators(c: &mut Criterion) {
    bench_one(
        c,
        "syslog_rfc5424",
        "- { type: syslog_parser, protocol: rfc5424 }",
        lines(|i| {
            format!("<86>1 2015-08-05T21:58:59.693Z 192.168.2.132 SecureAuth0 {i} ID52020 [SecureAuth@27389 UserHostAddress=\"192.168.2.132\" Realm=\"SecureAuth0\"] Found the user {i}")
        }),
    );
    bench_one(
        c,
        "syslog_rfc3164",
        "- { type: syslog_parser, protocol: rfc3164 }",
        lines(|i| format!("<34>Jan 12 06:30:00 1.2.3.4 apache_server[{i}]: test message {i}")),
    );
    bench_one(
        c,
        "csv",
        "- { type: csv_parser, header: 'id,severity,message,path' }",
        lines(|i| format!("{i},debug,\"Debug, message\",/api/orders/{i}")),
    );
    bench_one(
        c,
        "key_value",
        "- { type: key_value_parser }",
        lines(|i| format!("id={i} level=info msg=\"request done\" path=/api/orders/{i}")),
    );
    bench_one(
        c,
        "router_json",
        r#"
- type: router
  routes: [{ expr: 'body matches "^\\{"', output: json }]
  default: out
- { type: json_parser, id: json, if: 'body contains "level"' }
- { type: noop, id: out }
"#,
        lines(|i| format!("{{\"level\":\"info\",\"n\":{i},\"msg\":\"done\"}}")),
    );
    bench_one(
        c,
        "recombine",
        r#"- { type: recombine, combine_field: body, is_first_entry: 'body matches "^[^\\s]"' }"#,
        lines(|i| {
            if i % 10 == 0 {
                format!("Error {i}: java.lang.Exception")
            } else {
                format!("        at Main.demo{i}(Main.java:{i})")
            }
        }),
    );
}

criterion_group!(benches, operators);
criterion_main!(benches);
