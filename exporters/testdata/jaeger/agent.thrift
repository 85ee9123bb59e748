# The Jaeger agent's UDP service (compact protocol on port 6831), written for ferrotel's tests
# from the facts of Jaeger's agent.thrift.

include "jaeger.thrift"

namespace java io.jaegertracing.agent.thrift

service Agent {
  oneway void emitBatch(1: jaeger.Batch batch)
}
