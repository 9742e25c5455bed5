#!/usr/bin/env python3
"""Opens N TLS connections to HOST:PORT that each send their ClientHello and
then stall (a handshake flood), holds them for HOLD seconds, then closes
them. Used by tls_broker.sh; prints how many connections were opened."""
import socket
import ssl
import sys
import time

host, port, n, hold = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
socks = []
for _ in range(n):
    s = socket.create_connection((host, port))
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_side=False)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    s.sendall(out.read())
    socks.append(s)
print(len(socks), flush=True)
time.sleep(hold)
for s in socks:
    s.close()
