"""Sends telemetry to an OTLP endpoint with the official OpenTelemetry Python SDK exporters.

Usage: send_otlp.py --protocol grpc|http --endpoint URL --signal traces|metrics|logs --count N [--gzip]
Prints one JSON line describing what was sent (trace ids, attribute values) for the test to compare.
"""
import argparse
import json
import sys


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--protocol", choices=["grpc", "http"], required=True)
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--signal", choices=["traces", "metrics", "logs"], required=True)
    ap.add_argument("--count", type=int, default=10)
    ap.add_argument("--gzip", action="store_true")
    args = ap.parse_args()

    from opentelemetry.sdk.resources import Resource

    resource = Resource.create({"service.name": "py-sdk-test", "deployment.environment": "ci"})
    if args.protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.grpc.exporter import Compression

        kw = {"endpoint": args.endpoint, "insecure": True}
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.http import Compression

        path = {"traces": "/v1/traces", "metrics": "/v1/metrics", "logs": "/v1/logs"}[args.signal]
        kw = {"endpoint": args.endpoint.rstrip("/") + path}
    kw["compression"] = Compression.Gzip if args.gzip else Compression.NoCompression

    sent = {"signal": args.signal, "count": args.count}
    if args.signal == "traces":
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.trace import SpanKind, Status, StatusCode

        exporter = OTLPSpanExporter(**kw)
        provider = TracerProvider(resource=resource)
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        tracer = provider.get_tracer("py-test-scope", "1.2.3")
        ids = []
        for i in range(args.count):
            with tracer.start_as_current_span("GET /items", kind=SpanKind.SERVER) as span:
                span.set_attribute("http.request.method", "GET")
                span.set_attribute("item.index", i)
                span.set_attribute("ratio", 0.5)
                span.set_attribute("flag", True)
                span.set_attribute("tags", ["a", "b"])
                span.add_event("work.done", {"rows": 3})
                span.set_status(Status(StatusCode.ERROR, "boom") if i == 0 else Status(StatusCode.OK))
                ctx = span.get_span_context()
                ids.append({"trace_id": format(ctx.trace_id, "032x"), "span_id": format(ctx.span_id, "016x")})
        provider.shutdown()
        sent["spans"] = ids
    elif args.signal == "metrics":
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

        reader = PeriodicExportingMetricReader(OTLPMetricExporter(**kw), export_interval_millis=60000)
        provider = MeterProvider(resource=resource, metric_readers=[reader])
        meter = provider.get_meter("py-test-scope", "1.2.3")
        counter = meter.create_counter("requests", unit="1", description="requests served")
        hist = meter.create_histogram("latency", unit="ms")
        for i in range(args.count):
            counter.add(1, {"route": "/items"})
            hist.record(float(i), {"route": "/items"})
        provider.force_flush()
        provider.shutdown()
        sent["counter_total"] = args.count
    else:
        import logging
        from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
        from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor

        provider = LoggerProvider(resource=resource)
        provider.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter(**kw)))
        logger = logging.getLogger("py-test")
        logger.setLevel(logging.INFO)
        logger.addHandler(LoggingHandler(level=logging.INFO, logger_provider=provider))
        for i in range(args.count):
            logger.warning("order %d shipped", i, extra={"order.id": i})
        provider.shutdown()
    print(json.dumps(sent))
    return 0


if __name__ == "__main__":
    sys.exit(main())
