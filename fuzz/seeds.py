#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (fuzz/corpus/<target>/) from the protocol's test
vectors (protocol/testdata/vectors.json): the envelopes, certificates, chain, revocation and
fork proof of the vectors, bundles and sync frames built from them, and choice strings for the
structured targets. Run it again after the vectors change: python3 fuzz/seeds.py"""

import hashlib
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
V = json.load(open(os.path.join(HERE, "..", "protocol", "testdata", "vectors.json")))
MAGIC = b"LINGONG-BUNDLE/1\n"


def h(s):
    return bytes.fromhex(s)


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def pc_bytes(b):
    return varint(len(b)) + b


def pc_option(b):
    return b"\x00" if b is None else b"\x01" + pc_bytes(b)


def frame(session, hello, reconcile, envelopes, done, clock_ms):
    """A sync frame in postcard's encoding (lingong_protocol::sync::Frame)."""
    out = varint(session) + pc_option(hello) + pc_option(reconcile)
    out += varint(len(envelopes)) + b"".join(pc_bytes(e) for e in envelopes)
    out += b"\x01" if done else b"\x00"
    if clock_ms is None:
        out += b"\x00"
    else:
        out += b"\x01" + varint(((clock_ms << 1) ^ (clock_ms >> 63)) & (2**64 - 1))
    return out


wires = [h(e["wire"]) for e in V["envelopes"]]
headers = [h(e["wire_header_only"]) for e in V["envelopes"]]
rejected = [h(r["wire"]) for r in V["rejected"]]
chain = h(V["chain"]["bytes"])

for i, w in enumerate(wires):
    write("envelope", f"vector-{i}", w)
    write("envelope", f"vector-{i}-header", headers[i])
for i, w in enumerate(rejected):
    write("envelope", f"rejected-{i}", w)

write("cert_chain", "vector", struct.pack(">q", V["chain"]["verify_at_s"]) + chain)
write("certificate", "root", h(V["root_certificate"]["bytes"]))
write("certificate", "child", h(V["child_certificate"]["bytes"]))
write("certificate", "successor", h(V["successor_certificate"]["bytes"]))
write("revocation", "vector", h(V["revocation"]["bytes"]))
write("fork_proof", "vector", h(V["fork_proof"]["bytes"]))


def bundle_body(ws):
    return b"".join(struct.pack(">I", len(w)) + w for w in ws)


write("bundle", "vectors", bundle_body(wires + headers))
write("bundle", "with-magic", MAGIC + bundle_body(wires[:1]))
write("bundle", "empty", MAGIC)

# The simplest canonical reconcile message: one range to infinity, fingerprint of 0 items.
empty_round = bytes([1, 0, 1, 0])
# One finite bound (timestamp delta 1000, 2-byte id prefix), then an id list to infinity.
ids = [hashlib.sha256(w).digest() for w in wires]
listed = bytes([1]) + varint(1001) + bytes([(2 << 2) | 1]) + ids[0][:2] + varint(0)
listed += bytes([0, 2]) + varint(len(ids)) + b"".join(sorted(ids))
write("reconcile_message", "empty-round", empty_round)
write("reconcile_message", "id-list", listed)

write("sync_frame", "hello", frame(7, chain, empty_round, [], False, 1_750_000_000_000))
write("sync_frame", "envelopes", frame(7, None, listed, wires + headers, True, None))
write("sync_frame", "empty", frame(0, None, None, [], True, None))

# Structured targets: bytes are choices (see fuzz/src/lib.rs, Choices).
write("roundtrip", "post", bytes([4, 4, 3]) + struct.pack(">Q", 2) + bytes(16) + bytes([0, 0]) + bytes(8) + bytes(3) + b"\x00\x05hello")
write("roundtrip", "certificate", bytes([2, 2, 0]) + struct.pack(">Q", 1) + bytes(8) + struct.pack(">Q", 1) + bytes([1, 1]) + struct.pack(">Q", 1_750_000_000_000) + bytes(3) + b"\x00\x00")
pool = 17
write("accept_sequence", "pool-in-order", b"".join(bytes([0, i]) for i in range(pool)))
write("accept_sequence", "headers-then-payloads", b"".join(bytes([1, i]) for i in range(pool)) + b"".join(bytes([0, i]) for i in range(pool)))
write("accept_sequence", "reversed", b"".join(bytes([0, i]) for i in reversed(range(pool))))
write("accept_sequence", "signed-next", b"".join(bytes([0, i]) for i in range(7)) + bytes([4, 4, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]) * 3)
