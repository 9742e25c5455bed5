#!/usr/bin/python3
"""Keys and headers through the text protocol (issue 15): records produced
by kcat through the Kafka listener, with keys (empty and null) and headers
(one with a null value) and a tombstone, read back with `get ... meta=1`
byte for byte as docs/protocol.md specifies; kcat's own -J reading of the
same records is the truth the bytes are built from. Also: the default get
reply is unchanged, a text-protocol put reads back as KEYLEN -1 NHEADERS 0,
key and header bytes count against MAXBYTES, bad meta values are refused,
a long poll keeps the option, and `sluice tail` prints %k and %h as kcat
does (reading a Kafka topic's partition as `#0`). Run by kafka_core.sh:

    kafka_meta.py TEXT_PORT KAFKA_PORT
"""
import json
import os
import socket
import subprocess
import sys
import threading
import time

TEXT_PORT = int(sys.argv[1])
KAFKA_PORT = int(sys.argv[2])
BOOT = "127.0.0.1:%d" % KAFKA_PORT
TOP = os.path.dirname(os.path.abspath(__file__)) + "/../.."
SLUICE = os.path.join(TOP, "bin/sluice")
failed = 0


def check(name, ok, detail=""):
    global failed
    if ok:
        print("PASS kafka_core:meta:%s" % name)
    else:
        failed = 1
        print("FAIL kafka_core:meta:%s: %s" % (name, detail))
    sys.stdout.flush()


class Text:
    """A raw text-protocol connection that reads replies by exact bytes."""

    def __init__(self):
        self.s = socket.create_connection(("127.0.0.1", TEXT_PORT), timeout=30)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def need(self, n):
        while len(self.buf) < n:
            chunk = self.s.recv(65536)
            if not chunk:
                raise RuntimeError("connection closed")
            self.buf += chunk

    def line(self):
        while b"\r\n" not in self.buf:
            self.need(len(self.buf) + 1)
        ln, self.buf = self.buf.split(b"\r\n", 1)
        return ln

    def take(self, n):
        self.need(n)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def get_raw(self, reqid, args, meta):
        """Sends a get and returns its whole reply as bytes, read by the
        lengths it announces (nothing is assumed about the bytes)."""
        self.send(b"get %d %s\r\n" % (reqid, args))
        status = self.line()
        out = status + b"\r\n"
        parts = status.split()
        if parts[0] != b"200":
            return out
        for _ in range(int(parts[2])):
            hdr = self.line()
            out += hdr + b"\r\n"
            f = [int(x) for x in hdr.split()]
            if meta:
                if f[3] >= 0:
                    out += self.take(f[3] + 2)
                for _ in range(f[4]):
                    hl = self.line()
                    out += hl + b"\r\n"
                    n, v = [int(x) for x in hl.split()]
                    out += self.take(n + max(v, 0) + 2)
            if f[2] >= 0:
                out += self.take(f[2] + 2)
        return out


def kcat_records(topic, part):
    out = subprocess.run(["kcat", "-C", "-b", BOOT, "-t", topic, "-p",
                          str(part), "-o", "beginning", "-e", "-J", "-q"],
                         capture_output=True, timeout=60, check=True)
    return [json.loads(ln) for ln in out.stdout.decode().splitlines() if ln]


def enc(s):
    return None if s is None else s.encode()


def cost(r, meta):
    """What a record counts against MAXBYTES (docs/protocol.md)."""
    c = 16 + len(enc(r["payload"]) or b"")
    if meta:
        c += len(enc(r["key"]) or b"")
        h = r.get("headers") or []
        for i in range(0, len(h), 2):
            c += len(h[i].encode()) + len(enc(h[i + 1]) or b"") + 8
    return c


def expected(recs, meta, reqid, latest):
    """The reply docs/protocol.md specifies for these records."""
    out = b"200 %d %d %d %d\r\n" % (reqid, len(recs), recs[-1]["offset"] + 1,
                                    latest)
    for r in recs:
        val = enc(r["payload"])
        if not meta:
            out += b"%d %d %d\r\n%s\r\n" % (r["offset"], r["ts"],
                                            len(val or b""), val or b"")
            continue
        key = enc(r["key"])
        h = r.get("headers") or []
        out += b"%d %d %d %d %d\r\n" % (r["offset"], r["ts"],
                                        -1 if val is None else len(val),
                                        -1 if key is None else len(key),
                                        len(h) // 2)
        if key is not None:
            out += key + b"\r\n"
        for i in range(0, len(h), 2):
            name, hv = h[i].encode(), enc(h[i + 1])
            out += b"%d %d\r\n%s%s\r\n" % (len(name),
                                           -1 if hv is None else len(hv),
                                           name, hv or b"")
        if val is not None:
            out += val + b"\r\n"
    return out


def produce(lines, args):
    p = subprocess.run(["kcat", "-P", "-b", BOOT, "-t", "kt", "-p", "0",
                        "-K", ":"] + args,
                       input=lines, capture_output=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError("kcat -P: %s" % p.stderr.decode())


# Keys: "k1", empty, null (no delimiter on the line), one with spaces and a
# line end inside the value; headers: a=b, n with a null value, one whose
# value holds CRLF and spaces (the lengths, not the bytes, frame them).
produce(b"k1:v1\n:v2\nv3\nkey two:va lue\r\n", ["-H", "a=b", "-H", "n",
                                               "-H", "sp=x y\r\nz"])
# A tombstone (-Z: an empty value is sent as null) with a key, no headers.
produce(b"k4:\n", ["-Z"])
recs = kcat_records("kt", 0)
check("kcat_wrote_them", len(recs) == 5 and recs[2]["key"] is None and
      recs[4]["payload"] is None and recs[0]["headers"][3] is None,
      json.dumps(recs))

t = Text()
got = t.get_raw(1, b"kt #0 0 meta=1", True)
want = expected(recs, True, 1, 5)
check("meta_reply_byte_exact", got == want, "%r != %r" % (got, want))
got = t.get_raw(2, b"kt #0 0", False)
want = expected(recs, False, 2, 5)
check("default_reply_unchanged", got == want, "%r != %r" % (got, want))

# A put through the text protocol has no key and no headers.
t.send(b"put 3 kt #0 3\r\nabc\r\n")
check("put_acked", t.line() == b"200 3 5")
got = t.get_raw(4, b"kt #0 5 meta=1", True)
ts = got.split(b"\r\n")[1].split()[1] if got.startswith(b"200 ") else b"?"
check("put_reads_back_without_key_and_headers",
      got == b"200 4 1 6 6\r\n5 %s 3 -1 0\r\nabc\r\n" % ts, repr(got))

# MAXBYTES: the first record's cost with keys and headers returns it alone;
# one byte more adds the second. Without meta the same budget counts values
# only, so more records fit.
c0 = cost(recs[0], True)
got = t.get_raw(5, b"kt #0 0 %d meta=1" % c0, True)
check("maxbytes_counts_key_and_headers",
      got == expected(recs[:1], True, 5, 6), repr(got))
got = t.get_raw(6, b"kt #0 0 %d meta=1" % (c0 + 1), True)
check("maxbytes_one_more_byte", got == expected(recs[:2], True, 6, 6),
      repr(got))
got = t.get_raw(7, b"kt #0 0 %d" % c0, False)
n_plain = 0
used = 0
for r in recs:
    if n_plain > 0 and used >= c0:
        break
    used += cost(r, False)
    n_plain += 1
check("maxbytes_without_meta_values_only", n_plain > 1 and
      got == expected(recs[:n_plain], False, 7, 6), repr(got))

for i, bad in enumerate([b"meta=2", b"meta=", b"meta=x", b"meta=-1",
                         b"meta=01x"]):
    t.send(b"get %d kt #0 0 %s\r\n" % (20 + i, bad))
    ln = t.line()
    check("bad_value_refused_%d" % i,
          ln == b"400 %d bad meta (0 or 1)" % (20 + i), repr(ln))
# meta=0 is the default reply.
got = t.get_raw(30, b"kt #0 0 meta=0", False)
plain = t.get_raw(30, b"kt #0 0", False)
# (The kcat records, then the put's: the status line counts 6.)
body5 = expected(recs, False, 30, 5).split(b"\r\n", 1)[1]
check("meta0_is_default", got == plain and
      got.startswith(b"200 30 6 6 6\r\n" + body5), repr(got))

# A long poll keeps the option: the record produced while it waits comes
# back with its key and headers.
def late():
    time.sleep(0.3)
    produce(b"k7:v7\n", ["-H", "h=1"])


th = threading.Thread(target=late)
th.start()
got = t.get_raw(31, b"kt #0 6 wait=20000 meta=1", True)
th.join()
lines = got.split(b"\r\n")
check("long_poll_keeps_meta",
      len(lines) == 7 and lines[0] == b"200 31 1 7 7" and
      lines[1].split()[0] == b"6" and lines[1].split()[2:] == [b"2", b"2",
                                                               b"1"] and
      lines[2:6] == [b"k7", b"1 1", b"h1", b"v7"], repr(got))

# sluice tail reads the Kafka topic's partition 0 as "#0" and prints %k
# and %h as kcat does with the same format.
fmt = "%o|%k|%h|%s\\n"
kc = subprocess.run(["kcat", "-C", "-b", BOOT, "-t", "kt", "-p", "0", "-o",
                     "beginning", "-e", "-q", "-f", fmt],
                    capture_output=True, timeout=60)
sl = subprocess.run([SLUICE, "--broker", "127.0.0.1:%d" % TEXT_PORT, "tail",
                     "kt", "#0", "-e", "-f", fmt],
                    capture_output=True, timeout=60)
check("tail_prints_keys_and_headers_as_kcat",
      sl.returncode == 0 and kc.returncode == 0 and sl.stdout == kc.stdout and
      b"|k1|a=b,n=NULL,sp=x y\r\nz|v1\n" in sl.stdout,
      "%r != %r (%s)" % (sl.stdout, kc.stdout, sl.stderr.decode()))
# sluice produce --kafka with a key and a header, read back by sluice tail.
p = subprocess.run([SLUICE, "produce", "--kafka", BOOT, "kt2", "0", "-k",
                    "kk", "-H", "x=y"], input=b"hello\n",
                   capture_output=True, timeout=60)
sl = subprocess.run([SLUICE, "--broker", "127.0.0.1:%d" % TEXT_PORT, "tail",
                     "kt2", "#0", "-e", "-f", "%k %h %s\\n"],
                    capture_output=True, timeout=60)
check("produce_kafka_then_tail_hash0",
      p.returncode == 0 and sl.returncode == 0 and
      sl.stdout == b"kk x=y hello\n",
      "%r %s %s" % (sl.stdout, p.stderr.decode(), sl.stderr.decode()))
sys.exit(failed)
