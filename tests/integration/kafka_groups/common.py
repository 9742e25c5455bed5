"""Helpers of the Kafka consumer-group tests (tests/integration/
kafka_groups.sh): the broker's text protocol over a socket, raw Kafka
requests, and PASS/FAIL lines in the harness's format."""
import socket
import struct
import sys


class Text:
    """One connection to sluice-broker's text protocol (docs/protocol.md)."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buf = b""
        self.reqid = 0

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError("broker closed the text connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode()

    def cmd(self, line):
        """Sends a one-line command; returns (status, rest of the reply)."""
        self.reqid += 1
        parts = line.split(" ", 1)
        self.sock.sendall(
            ("%s %d %s\r\n" % (parts[0], self.reqid, parts[1])).encode())
        reply = self._line().split(" ", 2)
        return int(reply[0]), reply[2] if len(reply) > 2 else ""

    def put(self, topic, part, payload):
        self.reqid += 1
        data = payload.encode()
        self.sock.sendall(b"put %d %s %s %d\r\n%s\r\n" % (
            self.reqid, topic.encode(), part.encode(), len(data), data))
        reply = self._line().split(" ")
        if reply[0] != "200":
            raise RuntimeError("put refused: " + " ".join(reply))
        return int(reply[2])

    def committed(self, group, topic, part):
        status, rest = self.cmd("committed %s %s %s" % (group, topic, part))
        return int(rest) if status == 200 else None

    def close(self):
        self.sock.close()


def s16(s):
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def sbytes(b):
    return struct.pack(">i", len(b)) + b


class Conn:
    """One connection speaking raw Kafka requests (header v1, client id
    "hostile"); recv() checks the correlation id."""

    def __init__(self, port, timeout=60):
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=timeout)
        self.corr = 0

    def send(self, key, version, body):
        self.corr += 1
        head = struct.pack(">hhi", key, version, self.corr) + s16("hostile")
        msg = head + body
        self.sock.sendall(struct.pack(">i", len(msg)) + msg)

    def recv(self):
        size = struct.unpack(">i", self._n(4))[0]
        data = self._n(size)
        corr = struct.unpack(">i", data[:4])[0]
        if corr != self.corr:
            raise RuntimeError("correlation id %d, expected %d"
                               % (corr, self.corr))
        return Reader(data[4:])

    def _n(self, n):
        out = b""
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise ConnectionError("closed by the broker")
            out += chunk
        return out


class Reader:
    def __init__(self, data):
        self.d, self.p = data, 0

    def i16(self):
        self.p += 2
        return struct.unpack(">h", self.d[self.p - 2:self.p])[0]

    def i32(self):
        self.p += 4
        return struct.unpack(">i", self.d[self.p - 4:self.p])[0]

    def str(self):
        n = self.i16()
        self.p += max(n, 0)
        return self.d[self.p - n:self.p].decode() if n >= 0 else None

    def bytes(self):
        n = self.i32()
        self.p += max(n, 0)
        return self.d[self.p - n:self.p] if n >= 0 else None


failed = []


def check(name, ok, detail=""):
    if ok:
        print("PASS %s" % name, flush=True)
    else:
        print("FAIL %s: %s" % (name, detail), flush=True)
        failed.append(name)


def finish():
    sys.exit(1 if failed else 0)
