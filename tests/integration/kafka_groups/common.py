"""Helpers of the Kafka consumer-group tests (tests/integration/
kafka_groups.sh): the broker's text protocol over a socket, and PASS/FAIL
lines in the harness's format."""
import socket
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


failed = []


def check(name, ok, detail=""):
    if ok:
        print("PASS %s" % name, flush=True)
    else:
        print("FAIL %s: %s" % (name, detail), flush=True)
        failed.append(name)


def finish():
    sys.exit(1 if failed else 0)
