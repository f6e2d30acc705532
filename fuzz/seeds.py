#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (fuzz/corpus/<target>/) from the protocol's test
vectors (protocol/testdata/vectors.json): the envelopes, certificates, chain, revocation and
fork proof of the vectors, bundles and sync frames built from them, choice strings for the
structured targets, and for the node's importers and HTTP API the files and bodies its tests use
(tests/tests/csv_files.rs, tests/tests/web_console.rs, tests/tests/web_oversight.rs): CSV in
GBK, UTF-8 with and without a byte order mark, and JSON bodies. Run it again after the vectors
change: python3 fuzz/seeds.py"""

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


def frame(session, hello, reconcile, envelopes, done, clock_ms, scope_version=None):
    """A sync frame in postcard's encoding (lingong_protocol::sync::Frame, sync protocol
    version 3: `scope_version` last, said in the opening frame)."""
    out = varint(session) + pc_option(hello) + pc_option(reconcile)
    out += varint(len(envelopes)) + b"".join(pc_bytes(e) for e in envelopes)
    out += b"\x01" if done else b"\x00"
    if clock_ms is None:
        out += b"\x00"
    else:
        out += b"\x01" + varint(((clock_ms << 1) ^ (clock_ms >> 63)) & (2**64 - 1))
    out += pc_option_u32(scope_version)
    return out


def pc_option_u32(v):
    return b"\x00" if v is None else b"\x01" + varint(v)


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

write("sync_frame", "hello", frame(7, chain, empty_round, [], False, 1_750_000_000_000, 3))
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
# sync_session: the township's start store, the village's (0 certificates only, 1 and the
# first posts, 2 the whole pool), the envelope bytes per frame (0 600, 1 2,000, 2 32 KiB), then
# one choice a frame: 0 the village's next frame as it is, 2 altered (then the alterations),
# 3 raw bytes through Frame::decode.
write("sync_session", "honest-push-down", bytes([2, 0, 2]) + bytes(16))
write("sync_session", "honest-push-up-small-frames", bytes([0, 2, 0]) + bytes(16))
write("sync_session", "honest-both-ways", bytes([1, 2, 1]) + bytes(16))
write("sync_session", "altered-envelopes", bytes([0, 2, 1]) + bytes([0, 2, 1, 2, 3, 5, 1, 0, 0]) + bytes([2, 0, 3, 3, 4, 0, 1, 9, 0, 2, 2, 0]) + bytes(8))
write("sync_session", "altered-hello-and-clock", bytes([1, 1, 2]) + bytes([2, 1, 5, 0, 6]) + bytes([2, 1, 7]) + bytes(16) + bytes(8))


# csv_import: the first byte picks the table (0 posts, 1 workers, 2 employers) and the encoding
# given (+0 none, +3 utf-8, +6 gbk); the rest is the file, as Excel writes it (CRLF, a cell with
# a comma, a quote or a line break quoted).
def excel(rows, encoding):
    def cell(c):
        return '"' + c.replace('"', '""') + '"' if any(x in c for x in ',"\r\n') else c
    text = "".join(",".join(cell(c) for c in row) + "\r\n" for row in rows)
    if encoding == "gbk":
        return text.encode("gbk")
    if encoding == "bom":
        return b"\xef\xbb\xbf" + text.encode("utf-8")
    return text.encode("utf-8")


def id_number(first17):
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(d) * w for d, w in zip(first17, weights))
    return first17 + "10X98765432"[total % 11]


POST_HEADER = ["岗位名称", "工种", "工资（元）", "计薪单位", "人数", "截止日期", "地点", "联系方式", "说明", "范围"]
posts = [POST_HEADER]
for i, (title, occupation, wage, unit) in enumerate([
    ("装卸搬运工", "4-02-05-01", "220", "天"),
    ("家政钟点工", "钟点工", "25", "小时"),
    ("茶叶采摘工", "5-01-02-01", "￥3,500", "月"),
    ("餐厅服务员", "4-03-02-05", "130元", "day"),
]):
    description = "包午餐，日结\n自带手套" if i == 1 else '第 1 批，"旧州"片区'
    posts.append([f"{title}（{i + 1}号）", occupation, wage, unit, str(1 + i), "2030/1/15",
                  "旧州镇, 乐源社区", "张师傅 13800000000", description, ""])
write("csv_import", "posts-gbk", bytes([0]) + excel(posts, "gbk"))
write("csv_import", "posts-gbk-given", bytes([6]) + excel(posts, "gbk"))
write("csv_import", "posts-bom", bytes([3]) + excel(posts, "bom"))
write("csv_import", "posts-bad-header", bytes([0]) + excel([["title", "occupation", "wgae", "unit"], ["保洁", "4-09-08-01", "150", "day"]], "bom"))
write("csv_import", "posts-not-gbk", bytes([6]) + b"title,wage\r\nok,1\r\n\x81\x20,2\r\n")

workers = [["姓名", "身份证号", "电话", "技能", "最低工资", "标记", "可上岗日期"]]
for i in range(1, 5):
    workers.append([f"劳动者{i}", id_number(f"522622196{i % 10}0101{i:03}"), f"1380000{i:04}",
                    "钟点工、4-02-05-01", "120", "older" if i % 2 else "", "2026年3月5日"])
write("csv_import", "workers-bom", bytes([1]) + excel(workers, "bom"))
spoiled = [list(r) for r in workers]
spoiled[3][1] = "5.22622E+17"
write("csv_import", "workers-scientific", bytes([1]) + excel(spoiled, "bom"))
write("csv_import", "workers-gbk", bytes([7]) + excel(workers, "gbk"))

employers = [["名称", "类型", "统一社会信用代码", "联系人", "电话", "地址", "核验人"]]
for i in range(1, 4):
    employers.append([f"黄平县第{i}建筑劳务有限公司", "企业", "", "王经理", f"1390000{i:04}",
                      "黄平县新州镇", "李四，营业执照原件"])
employers[2][4] = "8888"
write("csv_import", "employers-utf8", bytes([2]) + excel(employers, "utf8"))
write("csv_import", "employers-gbk", bytes([8]) + excel(employers, "gbk"))

# http_body: the first byte picks the body type (fuzz_targets/http_body.rs); the rest is a body
# the web tests send.
worker_id = id_number("52262219900101123")
bodies = [
    (0, "post", '{"title":"搬运工","occupation":"钟点工","wage":180,"unit":"day","headcount":2,"contact":"李师傅 13800001234"}'),
    (0, "post-wrong-type", '{"title":"搬运工","occupation":"钟点工","wage":"a lot","unit":"day","headcount":2}'),
    (0, "post-unknown-field", '{"title":"搬运工","colour":"red"}'),
    (2, "worker", '{"name":"张三","id_number":"' + worker_id + '","phone":"13900001111","skills":"钟点工"}'),
    (5, "complaint", '{"kind":"wage-arrears","text":"工资拖欠两个月","amount":3000}'),
    (5, "complaint-wrong-type", '{"kind":"other","text":"x","amount":"lots"}'),
    (6, "complaint-update", '{"status":"accepted","note":"已受理"}'),
    (6, "complaint-finding", '{"status":"accepted","finding":"upheld"}'),
    (7, "review", '{"approve":true,"reason":null}'),
    (13, "login", '{"name":"amy","password":"not-it-at-all"}'),
    (14, "seal", '{"period":"2026-11","reason":"typo"}'),
    (15, "order", '{"node":"12D3KooWxyz","reason":"长期未发布岗位","deadline":"2027-01-31"}'),
    (8, "not-an-object", '["reason"]'),
    (8, "empty", ''),
    # Found by the target: a key with no name was refused naming the field "".
    (5, "empty-key", '{"kind":"other","":"x","amount":"lods"}'),
]
for choice, name, body in bodies:
    write("http_body", name, bytes([choice]) + body.encode("utf-8"))
