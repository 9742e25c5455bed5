#!/usr/bin/python3
"""kafka-python produces compressed batches with each codec Kafka defines;
run by kafka_compress.sh, which starts the broker. Prints PASS/FAIL lines.

    kafka_compress.py TEXT_PORT KAFKA_PORT

Per codec: the batches are stored with that codec as produced (a raw Fetch
v4 shows the attributes, and for snappy xerial's framing, 82 'SNAPPY' 00,
as kafka-python and the Java client write it); the text protocol's
`sluice tail` prints every value in order; kcat reads the same records
with their keys from the batches served as stored.
"""
import struct
import subprocess
import sys
import socket

TEXT = "127.0.0.1:%s" % sys.argv[1]
BOOT = "127.0.0.1:%s" % sys.argv[2]
N = 500
failed = 0


def check(name, ok, detail=""):
    global failed
    if ok:
        print("PASS kafka_compress:%s" % name)
    else:
        failed = 1
        print("FAIL kafka_compress:%s: %s" % (name, detail))
    sys.stdout.flush()


def value(codec, i):
    # Repetitive enough that every codec shrinks it, so the client never
    # falls back to sending a batch uncompressed.
    return "%s-%d-%s" % (codec, i, "abcdefgh" * (i % 13 + 1))


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        c = s.recv(n - len(buf))
        if not c:
            raise IOError("the broker closed the connection")
        buf += c
    return buf


def fetch_batches(topic):
    """The stored batches of topic's partition 0 as a raw Fetch v4 returns
    them: a list of (attributes, records count, compressed records)."""
    t = topic.encode()
    body = struct.pack(">iiiib", -1, 0, 0, 64 << 20, 0)
    body += struct.pack(">ih", 1, len(t)) + t
    body += struct.pack(">iiqi", 1, 0, 0, 64 << 20)
    client = b"kafka_compress"
    msg = struct.pack(">hhih", 1, 4, 7, len(client)) + client + body
    s = socket.create_connection(tuple(BOOT.split(":")), timeout=20)
    s.sendall(struct.pack(">i", len(msg)) + msg)
    d = recv_exact(s, struct.unpack(">i", recv_exact(s, 4))[0])
    s.close()
    # corr, throttle, [topic, [partition, error, hw, lso, aborted, records]]
    p = 4 + 4 + 4
    tl = struct.unpack(">h", d[p:p + 2])[0]
    p += 2 + tl + 4
    part, err, hw, lso, naborted = struct.unpack(">ihqqi", d[p:p + 26])
    p += 26 + max(naborted, 0) * 16
    if err != 0:
        raise IOError("fetch error %d" % err)
    size = struct.unpack(">i", d[p:p + 4])[0]
    recs = d[p + 4:p + 4 + size]
    out = []
    q = 0
    while q + 61 <= len(recs):
        blen = struct.unpack(">i", recs[q + 8:q + 12])[0]
        if q + 12 + blen > len(recs):
            break  # A partial batch at the end, as Kafka may send.
        attrs = struct.unpack(">h", recs[q + 21:q + 23])[0]
        count = struct.unpack(">i", recs[q + 57:q + 61])[0]
        out.append((attrs, count, recs[q + 61:q + 12 + blen]))
        q += 12 + blen
    return out


def main():
    from kafka import KafkaProducer
    codecs = {"gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
    for codec, num in codecs.items():
        topic = "kp" + codec
        prod = KafkaProducer(bootstrap_servers=BOOT, compression_type=codec,
                             linger_ms=20, batch_size=64 << 10, acks="all")
        for i in range(N):
            prod.send(topic, key=b"k%d" % i, value=value(codec, i).encode())
        prod.flush()
        prod.close()

        batches = fetch_batches(topic)
        codes = set(a & 7 for a, _, _ in batches)
        check("%s_stored_compressed" % codec,
              codes == {num} and sum(c for _, c, _ in batches) == N,
              "codecs %r, %d records in %d batches" %
              (codes, sum(c for _, c, _ in batches), len(batches)))
        if codec == "snappy":
            check("snappy_xerial_framing",
                  all(z[:8] == b"\x82SNAPPY\x00" for _, _, z in batches),
                  repr([z[:8] for _, _, z in batches]))

        want = "".join(value(codec, i) + "\n" for i in range(N))
        p = subprocess.run(["bin/sluice", "--broker", TEXT, "tail", topic,
                            "#0"], capture_output=True, timeout=60)
        got = p.stdout.decode(errors="replace")
        check("%s_text_tail" % codec, p.returncode == 0 and got == want,
              "exit %d, %d of %d bytes; stderr %s" %
              (p.returncode, len(got), len(want), p.stderr[-300:]))

        p = subprocess.run(["kcat", "-b", BOOT, "-C", "-t", topic, "-o",
                            "beginning", "-e", "-q", "-f", "%k=%s\n"],
                           capture_output=True, timeout=60)
        want = "".join("k%d=%s\n" % (i, value(codec, i)) for i in range(N))
        got = p.stdout.decode(errors="replace")
        check("%s_kcat_reads" % codec, p.returncode == 0 and got == want,
              "exit %d, %d of %d bytes" % (p.returncode, len(got), len(want)))
    return failed


if __name__ == "__main__":
    sys.exit(main())
