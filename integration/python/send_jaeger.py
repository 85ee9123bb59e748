"""Sends spans with a real Jaeger client to ferrotel's `jaeger` receiver and prints, as JSON,
what was sent (ids as hex), for integration/tests/jaeger_python.rs to compare with what
arrives downstream.

Modes:
  otel-grpc          opentelemetry-exporter-jaeger-proto-grpc -> api_v2 PostSpans (grpc)
  otel-thrift-http   opentelemetry-exporter-jaeger-thrift, collector_endpoint (thrift_http)
  otel-thrift-agent  opentelemetry-exporter-jaeger-thrift, agent UDP, compact (thrift_compact)
  jaeger-client      jaeger-client (OpenTracing), agent UDP, compact (thrift_compact)
  thrift-binary      Apache Thrift's Python library, jaeger-client's generated Agent client
                     in TBinaryProtocol, one datagram (thrift_binary)
"""

import argparse
import json
import socket
import sys
import time


def hex_id(n, width):
    return format(n, "0{}x".format(width))


def otel_spans(exporter, service):
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import Link, SpanKind, Status, StatusCode

    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service, "deployment": "test"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("send_jaeger", "1.2.3")
    with tracer.start_as_current_span("GET /items", kind=SpanKind.SERVER) as server:
        server.set_attribute("http.request.method", "GET")
        server.set_attribute("item.count", 3)
        server.set_attribute("ratio", 0.5)
        server.set_attribute("flag", True)
        server.add_event("work.done", {"rows": 7})
        link = Link(server.get_span_context(), {"why": "retry"})
        with tracer.start_as_current_span("SELECT", kind=SpanKind.CLIENT, links=[link]) as client:
            client.set_attribute("db.system", "postgresql")
            client.set_status(Status(StatusCode.ERROR, "connection reset"))
    provider.shutdown()
    out = []
    for s in memory.get_finished_spans():
        ctx = s.get_span_context()
        out.append({
            "name": s.name,
            "trace_id": hex_id(ctx.trace_id, 32),
            "span_id": hex_id(ctx.span_id, 16),
            "parent_id": hex_id(s.parent.span_id, 16) if s.parent else "",
            "start_ns": s.start_time,
            "end_ns": s.end_time,
        })
    return out


def jaeger_client_spans(host, port, service):
    import logging
    from jaeger_client import Config

    logging.disable(logging.CRITICAL)
    config = Config(
        config={
            "sampler": {"type": "const", "param": 1},
            "local_agent": {"reporting_host": host, "reporting_port": port},
            "logging": False,
        },
        service_name=service,
        validate=True,
    )
    tracer = config.initialize_tracer()
    spans = []
    server = tracer.start_span("GET /items", tags={"span.kind": "server", "item.count": 3, "ratio": 0.5, "flag": True})
    server.log_kv({"event": "work.done", "rows": 7})
    client = tracer.start_span("SELECT", child_of=server, tags={"span.kind": "client", "error": True, "db.system": "postgresql"})
    client.finish()
    server.finish()
    for s in (server, client):
        spans.append({
            "name": s.operation_name,
            "trace_id": hex_id(s.context.trace_id, 32),
            "span_id": hex_id(s.context.span_id, 16),
            "parent_id": hex_id(s.context.parent_id, 16) if s.context.parent_id else "",
            "start_ns": int(s.start_time * 1e9),
            "end_ns": int(s.end_time * 1e9),
        })
    time.sleep(1.5)
    tracer.close()
    time.sleep(1.0)
    return spans


def thrift_binary_spans(host, port, service):
    from jaeger_client.thrift_gen.agent import Agent
    from jaeger_client.thrift_gen.jaeger import ttypes as J
    from thrift.Thrift import TMessageType
    from thrift.protocol import TBinaryProtocol
    from thrift.transport import TTransport

    buf = TTransport.TMemoryBuffer()
    oprot = TBinaryProtocol.TBinaryProtocol(buf)
    start_us = int(time.time() * 1e6)
    span = J.Span(
        traceIdLow=0x1122334455667788, traceIdHigh=0x0102030405060708, spanId=0x0a0b0c0d0e0f1011,
        parentSpanId=0x0102, operationName="binary-op", flags=1, startTime=start_us, duration=2500,
        tags=[
            J.Tag(key="span.kind", vType=J.TagType.STRING, vStr="producer"),
            J.Tag(key="otel.status_code", vType=J.TagType.STRING, vStr="OK"),
            J.Tag(key="bytes", vType=J.TagType.BINARY, vBinary="\x00\x01\x7f"),
            J.Tag(key="n", vType=J.TagType.LONG, vLong=-5),
        ],
        logs=[J.Log(timestamp=start_us + 10, fields=[J.Tag(key="message", vType=J.TagType.STRING, vStr="hi")])],
    )
    batch = J.Batch(process=J.Process(serviceName=service, tags=[J.Tag(key="hostname", vType=J.TagType.STRING, vStr="box-1")]), spans=[span])
    oprot.writeMessageBegin("emitBatch", TMessageType.ONEWAY, 1)
    Agent.emitBatch_args(batch=batch).write(oprot)
    oprot.writeMessageEnd()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.sendto(buf.getvalue(), (host, port))
    return [{
        "name": "binary-op",
        "trace_id": "01020304050607081122334455667788",
        "span_id": "0a0b0c0d0e0f1011",
        "parent_id": "0000000000000102",
        "start_ns": start_us * 1000,
        "end_ns": (start_us + 2500) * 1000,
    }]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--mode", required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--service", default="py-jaeger-test")
    a = p.parse_args()
    if a.mode == "otel-grpc":
        from opentelemetry.exporter.jaeger.proto.grpc import JaegerExporter
        spans = otel_spans(JaegerExporter(collector_endpoint="{}:{}".format(a.host, a.port), insecure=True), a.service)
    elif a.mode == "otel-thrift-http":
        from opentelemetry.exporter.jaeger.thrift import JaegerExporter
        spans = otel_spans(JaegerExporter(collector_endpoint="http://{}:{}/api/traces".format(a.host, a.port)), a.service)
    elif a.mode == "otel-thrift-agent":
        from opentelemetry.exporter.jaeger.thrift import JaegerExporter
        spans = otel_spans(JaegerExporter(agent_host_name=a.host, agent_port=a.port), a.service)
    elif a.mode == "jaeger-client":
        spans = jaeger_client_spans(a.host, a.port, a.service)
    elif a.mode == "thrift-binary":
        spans = thrift_binary_spans(a.host, a.port, a.service)
    else:
        sys.exit("unknown mode " + a.mode)
    json.dump({"service": a.service, "spans": spans}, sys.stdout)


if __name__ == "__main__":
    main()
