"""Sends spans to a Zipkin endpoint with the official OpenTelemetry Python Zipkin exporters.

Usage: send_zipkin.py --encoding json|proto --endpoint URL
Sends one request with a SERVER span and its CLIENT child (attributes of each type, an event,
an error status) and prints one JSON line: the export result and the ids, for the test.
"""
import argparse
import json
import sys


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--encoding", choices=["json", "proto"], required=True)
    ap.add_argument("--endpoint", required=True)
    args = ap.parse_args()

    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import SpanKind, Status, StatusCode

    if args.encoding == "json":
        from opentelemetry.exporter.zipkin.json import ZipkinExporter
    else:
        from opentelemetry.exporter.zipkin.proto.http import ZipkinExporter

    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "py-zipkin-test"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("py-zipkin-scope", "0.1")
    with tracer.start_as_current_span("GET /items", kind=SpanKind.SERVER) as server:
        server.set_attribute("http.request.method", "GET")
        server.set_attribute("item.count", 3)
        server.set_attribute("ratio", 0.5)
        server.set_attribute("flag", True)
        server.add_event("work.done", {"rows": 3})
        with tracer.start_as_current_span("SELECT", kind=SpanKind.CLIENT) as client:
            client.set_attribute("db.system", "postgresql")
            client.set_status(Status(StatusCode.ERROR, "boom"))
    provider.shutdown()
    spans = memory.get_finished_spans()

    result = ZipkinExporter(endpoint=args.endpoint).export(spans)
    out = {
        "ok": result == SpanExportResult.SUCCESS,
        "spans": [
            {
                "name": s.name,
                "trace_id": format(s.context.trace_id, "032x"),
                "span_id": format(s.context.span_id, "016x"),
                "parent_id": format(s.parent.span_id, "016x") if s.parent else "",
                "start_ns": s.start_time,
                "end_ns": s.end_time,
            }
            for s in spans
        ],
    }
    print(json.dumps(out))
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
