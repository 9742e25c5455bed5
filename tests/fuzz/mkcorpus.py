#!/usr/bin/env python3
"""Regenerates the seed corpora of the byte-cut fuzz targets.

    tests/fuzz/mkcorpus.py FIXTURES_DIR

FIXTURES_DIR is the real-server binlog collection (its INDEX.md lists the
sources). Writes tests/fuzz/corpus/<target>/ for fuzz_capture_decode,
fuzz_capture_ddl, fuzz_capture_ddl_names, fuzz_capture_json_bin and
fuzz_lib_jsonread. The corpora
are committed, so neither this script nor the fixtures are needed to build
or run the fuzzers; it is kept so the seeds can be regenerated and their
origin is plain. fuzz_capture_ddl gets more seeds at each run, never
committed: tests/run-fuzz.sh writes the live DDL corpus (the statements
scripts/ddl-corpus.py extracts from the fixture binlogs and MariaDB's own
test suite) into build/fuzz-seeds/fuzz_capture_ddl. The broker, checkpoint, history and event seeds come from
the real encoders instead: see tests/fuzz/seedgen.c.
"""
import hashlib
import os
import re
import struct
import sys

ROOT = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(ROOT, "corpus")
REPO = os.path.dirname(os.path.dirname(ROOT))


def write_seed(target, data, budget):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()[:16]
    path = os.path.join(d, name)
    if os.path.exists(path):
        return 0
    if budget[target] < len(data):
        return 0
    budget[target] -= len(data)
    with open(path, "wb") as f:
        f.write(data)
    return 1


# ---- binlogs -------------------------------------------------------------

def binlog_files(fixtures):
    for dirpath, _, files in os.walk(fixtures):
        for fn in sorted(files):
            p = os.path.join(dirpath, fn)
            with open(p, "rb") as f:
                if f.read(4) == b"\xfebin":
                    yield p


def events(data):
    """Yields (offset, type, bytes) of each whole event after the magic."""
    off = 4
    while off + 19 <= len(data):
        size = struct.unpack_from("<I", data, off + 9)[0]
        if size < 19 or off + size > len(data):
            return
        yield off, data[off + 4], data[off:off + size]
        off += size


def server_version(fde):
    v = fde[19 + 2:19 + 52].split(b"\0")[0].decode("latin1")
    m = re.match(r"(\d+)\.(\d+)\.(\d+)", v)
    return (tuple(int(x) for x in m.groups()) if m else (0, 0, 0)), v


def checksum_len(fde):
    ver, _ = server_version(fde)
    if ver >= (5, 6, 1) and fde[-5] == 1:
        return 4
    return 0


def tmap_coltypes(ev, ph_len):
    """Column type bytes of a TABLE_MAP event (body after the header)."""
    try:
        p = 19 + ph_len
        p += 1 + ev[p] + 1
        p += 1 + ev[p] + 1
        n = ev[p]
        if n >= 0xFB:
            return set()
        return set(ev[p + 1:p + 1 + n])
    except IndexError:
        return set()


def decode_corpus(fixtures, budget):
    seen = set()
    n = 0
    for path in binlog_files(fixtures):
        data = open(path, "rb").read()
        evs = list(events(data))
        if not evs or evs[0][1] not in (15, 1):
            # No format description first: the whole (small) file only.
            if len(data) <= 4096:
                n += write_seed("fuzz_capture_decode", b"\0" + data[4:],
                                budget)
            continue
        fde = evs[0][2]
        ph = 8
        if evs[0][1] == 15 and len(fde) > 19 + 57 + 19:
            ph = fde[19 + 57 + 19 - 1] if len(fde) > 19 + 76 else 8
        if len(data) <= 4096:
            n += write_seed("fuzz_capture_decode", b"\0" + data[4:], budget)
            for _, t, ev in evs:
                seen.add(("ev", t))
            continue
        # Larger files: the format description and the events up to the
        # first transaction, then windows of whole events (at most 6 KB)
        # that bring an event or column type not seen so far.
        prelude = b""
        i = 0
        while i < len(evs) and evs[i][1] in (15, 35, 163, 161, 4, 3):
            prelude += evs[i][2]
            i += 1
        kept = 0
        while i < len(evs) and kept < 3:
            win = b""
            feats = set()
            while i < len(evs) and len(win) + len(evs[i][2]) <= 6144:
                t, ev = evs[i][1], evs[i][2]
                win += ev
                feats.add(("ev", t))
                if t == 19:
                    feats |= {("col", c) for c in tmap_coltypes(ev, ph)}
                i += 1
            if not win:
                i += 1  # An event larger than a window: skip it.
                continue
            if feats - seen and len(prelude) + len(win) <= 12288:
                seen |= feats
                n += write_seed("fuzz_capture_decode", b"\0" + prelude + win,
                                budget)
                kept += 1
        # Modes 1 and 2: transactions after the target's own synthetic
        # format description (MySQL 8.0, MariaDB 10.11), checksums cut.
        ver, vs = server_version(fde)
        mode = 2 if "MariaDB" in vs and ver >= (10, 0, 0) else (
            1 if ver >= (8, 0, 0) and "MariaDB" not in vs else 0)
        if mode and evs[0][1] == 15:
            cl = checksum_len(fde)
            win = b""
            wins = 0
            for _, t, ev in evs[1:]:
                if cl:
                    ev = bytearray(ev[:-cl])
                    struct.pack_into("<I", ev, 9, len(ev))
                    ev = bytes(ev)
                if win and len(win) + len(ev) > 4096:
                    n += write_seed("fuzz_capture_decode",
                                    bytes([mode]) + win, budget)
                    wins += 1
                    win = b""
                    if wins >= 2:
                        break
                win += ev
            if win and wins < 2:
                n += write_seed("fuzz_capture_decode", bytes([mode]) + win,
                                budget)
    return n


def query_texts(fixtures):
    out = []
    for path in binlog_files(fixtures):
        data = open(path, "rb").read()
        evs = list(events(data))
        cl = 0
        if evs and evs[0][1] == 15:
            cl = checksum_len(evs[0][2])
        for _, t, ev in evs:
            if t != 2:
                continue
            body = ev[19:len(ev) - cl]
            if len(body) < 13:
                continue
            dblen = body[8]
            svlen = struct.unpack_from("<H", body, 11)[0]
            q = body[13 + svlen + dblen + 1:]
            out.append(q)
    return out


DDL_START = re.compile(rb"^\s*(/\*.*?\*/\s*)*(create|alter|drop|rename|"
                       rb"truncate)\b", re.I | re.S)


def c_literals(path):
    """Adjacent C string literals of a file, joined and unescaped."""
    src = open(path, "rb").read()
    out = []
    for m in re.finditer(rb'(?:"(?:[^"\\\n]|\\.)*"\s*)+', src):
        parts = re.findall(rb'"((?:[^"\\\n]|\\.)*)"', m.group(0))
        s = b"".join(parts)
        try:
            s = s.decode("unicode_escape").encode("latin1")
        except (UnicodeDecodeError, UnicodeEncodeError):
            continue
        out.append(s)
    return out


def ddl_corpus(fixtures, budget):
    stmts = []
    for q in query_texts(fixtures):
        if DDL_START.match(q) and len(q) <= 4000:
            stmts.append(q)
    for t in ("test_capture_ddl.c", "test_capture_schema.c",
              "test_capture_fixtures.c"):
        p = os.path.join(REPO, "tests", "unit", t)
        if os.path.exists(p):
            stmts += [s for s in c_literals(p)
                      if DDL_START.match(s) and b"\0" not in s]
    uniq = []
    seen = set()
    for s in stmts:
        k = s.strip().lower()
        if k not in seen:
            seen.add(k)
            uniq.append(s)
    flags = [0x00, 0x03, 0x02, 0x01, 0x07, 0x0b, 0x13]
    n = 0
    for i, s in enumerate(uniq[:600]):
        n += write_seed("fuzz_capture_ddl", bytes([flags[i % len(flags)]]) + s,
                        budget)
    # A few multi-statement seeds, so ALTER and RENAME meet what CREATE
    # made before them.
    creates = [s for s in uniq if s.lower().lstrip().startswith(b"create table")]
    alters = [s for s in uniq if s.lower().lstrip().startswith(b"alter table")]
    for i in range(min(20, len(creates), len(alters))):
        n += write_seed("fuzz_capture_ddl", bytes([flags[i % len(flags)]]) +
                        creates[i] + b"\0" + alters[i] + b"\0" +
                        b"RENAME TABLE t TO t2, u TO t", budget)
    return n


def ddl_names_corpus(fixtures, budget):
    """Seeds of fuzz_capture_ddl_names (fuzz_capture_ddl's input format):
    the statements of its unit test, some with an ANSI_QUOTES or
    no-default-database flag, and every 4th DDL statement of the
    fixtures."""
    stmts = []
    p = os.path.join(REPO, "tests", "unit", "test_capture_ddl_names.c")
    if os.path.exists(p):
        stmts += [s for s in c_literals(p) if b"\0" not in s and
                  (DDL_START.match(s) or s.lower().startswith(b"set "))]
    stmts += [q for q in query_texts(fixtures)
              if DDL_START.match(q) and len(q) <= 2000][::4]
    flags = [0x03, 0x01, 0x07, 0x23, 0x02, 0x00]
    n = 0
    seen = set()
    for i, s in enumerate(stmts):
        if s in seen:
            continue
        seen.add(s)
        n += write_seed("fuzz_capture_ddl_names",
                        bytes([flags[i % len(flags)]]) + s, budget)
    return n


# ---- binary JSON ---------------------------------------------------------

def varlen(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def jb_scalar(v):
    """(type, payload) of a scalar; inline-able ones are handled by caller."""
    if v is None:
        return 0x04, b"\x00"
    if v is True:
        return 0x04, b"\x01"
    if v is False:
        return 0x04, b"\x02"
    if isinstance(v, int):
        if -32768 <= v <= 32767:
            return 0x05, struct.pack("<h", v)
        if -2**31 <= v < 2**31:
            return 0x07, struct.pack("<i", v)
        if -2**63 <= v < 2**63:
            return 0x09, struct.pack("<q", v)
        return 0x0A, struct.pack("<Q", v)
    if isinstance(v, float):
        return 0x0B, struct.pack("<d", v)
    if isinstance(v, str):
        b = v.encode()
        return 0x0C, varlen(len(b)) + b
    if isinstance(v, tuple):  # ("opaque", mysql type, bytes)
        return 0x0F, bytes([v[1]]) + varlen(len(v[2])) + v[2]
    raise TypeError(v)


def jb_value(v, large=False):
    """(type, payload) of any value."""
    if isinstance(v, dict) or isinstance(v, list):
        return jb_container(v, large)
    return jb_scalar(v)


def jb_container(v, large):
    osz = 4 if large else 2
    is_obj = isinstance(v, dict)
    items = list(v.items()) if is_obj else [(None, x) for x in v]
    n = len(items)
    hdr = 2 * osz
    key_entries = n * (osz + 2) if is_obj else 0
    val_entries = n * (1 + osz)
    pos = hdr + key_entries + val_entries
    keys = b""
    kents = b""
    if is_obj:
        for k, _ in items:
            kb = k.encode()
            kents += (struct.pack("<I" if large else "<H", pos + len(keys)) +
                      struct.pack("<H", len(kb)))
            keys += kb
    pos += len(keys)
    vents = b""
    vals = b""
    for _, x in items:
        t, payload = jb_value(x, large)
        inline = t == 0x04 or t in (0x05, 0x06) or (large and t in (0x07, 0x08))
        if inline:
            raw = payload.ljust(osz, b"\0")[:osz]
            vents += bytes([t]) + raw
        else:
            vents += bytes([t]) + struct.pack("<I" if large else "<H",
                                              pos + len(vals))
            vals += payload
    body = kents + vents + keys + vals
    size = hdr + len(body)
    fmt = "<II" if large else "<HH"
    t = (0x01 if large else 0x00) if is_obj else (0x03 if large else 0x02)
    return t, struct.pack(fmt, n, size) + body


def jb(v, large=False):
    t, p = jb_value(v, large)
    return bytes([t]) + p


def lenenc(n):
    if n < 0xFB:
        return bytes([n])
    if n < 1 << 16:
        return b"\xfc" + struct.pack("<H", n)
    return b"\xfe" + struct.pack("<Q", n)


def jdiff(op, path, value=None):
    out = bytes([op]) + lenenc(len(path)) + path.encode()
    if op != 2:
        v = jb(value)
        out += lenenc(len(v)) + v
    return out


def json_bin_corpus(budget):
    docs = [
        None, True, False, 0, -1, 32767, 32768, -2**31, 2**40, 2**64 - 1,
        3.14, 1.0, -0.0, 1e300, "", "abc", "caf\u00e9 \u6e2c\u8a66", "x" * 200,
        [], {}, [1, "a", None, True, 2.5],
        {"a": 1, "b": [1, 2, {"c": "d"}], "long key name": {"x": None}},
        {"k%d" % i: i * 1000 for i in range(40)},
        [[[[[[[[1]]]]]]]], {"a": {"b": {"c": {"d": {"e": []}}}}},
        ("opaque", 10, struct.pack("<q", 0x1993_1000_0000_0000 >> 1)),
        ("opaque", 12, struct.pack("<q", 1 << 50)),
        ("opaque", 11, struct.pack("<q", 12345 << 24)),
        ("opaque", 246, bytes([5, 2, 0x80, 0x01, 0x2c])),
        ("opaque", 253, b"opaque text"),
        ("opaque", 252, bytes(range(60))),
        [("opaque", 7, struct.pack("<q", 1 << 45)), {"t": "\u00e9\u00e8"}],
    ]
    n = 0
    for d in docs:
        n += write_seed("fuzz_capture_json_bin", b"\0" + jb(d), budget)
        if isinstance(d, (list, dict)):
            n += write_seed("fuzz_capture_json_bin", b"\2" + jb(d, True),
                            budget)
    before = jb({"a": 1, "b": [1, 2, 3], "c": {"d": "e"}, "f g": None})
    diffs = [
        b"",
        jdiff(0, "$.a", 2),
        jdiff(1, "$.b[1]", "x") + jdiff(2, "$.c.d"),
        jdiff(1, "$.z", {"new": [1, 2]}) + jdiff(0, "$.b[0]", None),
        jdiff(0, '$."f g"', [True, False]),
        jdiff(2, "$.b[2]") + jdiff(1, "$.b[5]", 9) + jdiff(1, "$.c.aa", 1.5),
        jdiff(0, "$", 1),
    ]
    for d in diffs:
        n += write_seed("fuzz_capture_json_bin",
                        b"\1" + struct.pack("<H", len(before)) + before + d,
                        budget)
    return n


# ---- JSON text -----------------------------------------------------------

def jsonread_corpus(fixtures, budget):
    docs = []
    for dirpath, _, files in os.walk(fixtures):
        for fn in sorted(files):
            if fn.endswith(".json"):
                p = os.path.join(dirpath, fn)
                if os.path.getsize(p) <= 16384:
                    docs.append(open(p, "rb").read())
    for fn in sorted(os.listdir(os.path.join(REPO, "docs"))):
        if not fn.endswith(".md"):
            continue
        text = open(os.path.join(REPO, "docs", fn), "rb").read()
        for m in re.finditer(rb"```json\n(.*?)```", text, re.S):
            docs.append(m.group(1))
        # One-line JSON objects quoted in the prose or code blocks.
        for m in re.finditer(rb"^\s*(\{\".*\})\s*$", text, re.M):
            docs.append(m.group(1))
    docs += [
        b"null", b"true", b"false", b"0", b"-0", b"-1.5e-300", b"1E+400",
        b"18446744073709551615", b"18446744073709551616",
        b"-9223372036854775808", b"\"\"", b"\"\\u00e9\\ud83d\\ude00\\n\\\\\"",
        b"\"\\ud800\"", b"[]", b"{}", b"[1,[2,[3,[4,[5]]]]]",
        b"{\"a\":1,\"a\":2,\"id\":3}", b"  {\"id\" : [ ] , \"x\":{}}  ",
        b"[" * 64 + b"]" * 64, b"{\"k\":\"caf\xc3\xa9\"}", b"[1,]", b"{\"a\"}",
    ]
    n = 0
    for d in docs:
        n += write_seed("fuzz_lib_jsonread", d.strip(), budget)
    return n


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    fixtures = sys.argv[1]
    budget = {"fuzz_capture_decode": 900 << 10, "fuzz_capture_ddl": 400 << 10,
              "fuzz_capture_json_bin": 64 << 10,
              "fuzz_lib_jsonread": 128 << 10}
    print("decode", decode_corpus(fixtures, budget))
    print("ddl", ddl_corpus(fixtures, budget))
    budget["fuzz_capture_ddl_names"] = 96 << 10
    print("ddl_names", ddl_names_corpus(fixtures, budget))
    print("json_bin", json_bin_corpus(budget))
    print("jsonread", jsonread_corpus(fixtures, budget))


if __name__ == "__main__":
    main()
