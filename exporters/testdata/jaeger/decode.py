"""Decodes Jaeger Thrift payloads with Apache Thrift's own Python library and prints JSON.

Usage: decode.py GEN_DIR (http|udp) FILE...
  GEN_DIR  output of `thrift -r --gen py -out GEN_DIR agent.thrift`
  http     each FILE is a jaeger.Batch in the binary protocol (a collector POST body)
  udp      each FILE is an Agent.emitBatch message in the compact protocol (one datagram)

Prints a JSON list with one object per FILE: {"batch": {...}} (plus "message": {name, type,
seqid} for udp). Every struct is printed with all its fields (unset optional ones as null),
binary values as hex. Exits non-zero if a payload does not decode completely, misses a
required field, or has bytes left over.
"""

import json
import sys


def to_json(v):
    if isinstance(v, (bytes, bytearray)):
        return {"hex": bytes(v).hex()}
    if isinstance(v, list):
        return [to_json(x) for x in v]
    if hasattr(v, "thrift_spec"):
        return {k: to_json(x) for k, x in vars(v).items()}
    return v


def main():
    gen, mode, files = sys.argv[1], sys.argv[2], sys.argv[3:]
    sys.path.insert(0, gen)
    from thrift.protocol import TBinaryProtocol, TCompactProtocol
    from thrift.Thrift import TMessageType
    from thrift.transport import TTransport

    from agent import Agent
    from jaeger import ttypes

    out = []
    for path in files:
        with open(path, "rb") as f:
            data = f.read()
        trans = TTransport.TMemoryBuffer(data)
        item = {}
        if mode == "http":
            batch = ttypes.Batch()
            batch.read(TBinaryProtocol.TBinaryProtocol(trans))
        elif mode == "udp":
            prot = TCompactProtocol.TCompactProtocol(trans)
            name, mtype, seqid = prot.readMessageBegin()
            args = Agent.emitBatch_args()
            args.read(prot)
            prot.readMessageEnd()
            if mtype != TMessageType.ONEWAY:
                raise SystemExit(f"{path}: message type {mtype}, want ONEWAY")
            item["message"] = {"name": name, "type": mtype, "seqid": seqid}
            batch = args.batch
        else:
            raise SystemExit(f"unknown mode {mode}")
        left = len(data) - trans._buffer.tell()
        if left:
            raise SystemExit(f"{path}: {left} bytes left after the message")
        batch.validate()
        for s in batch.spans:
            s.validate()
            for t in (s.tags or []) + [t for l in (s.logs or []) for t in l.fields]:
                t.validate()
        item["batch"] = to_json(batch)
        item["size"] = len(data)
        out.append(item)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
