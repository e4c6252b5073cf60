#!/usr/bin/env python3
"""A foreign TLS peer for check_tls.c, written from AEMP-TLS-EXT.md section
10 with Python's ssl module and memory BIOs: node ID "pyc", auth tls_anon.

usage: tls_peer.py PORT PEMFILE ROLE MODE [TARGET_PORT]
  ROLE  client: our nonce line is all '+' (smaller than any random one), so
        we are the TLS client and send greeting and ClientHello in one write;
        server: all 'z', we are the TLS server.
  MODE  ok: authenticate, send ["TARGET_PORT","hello from python"], wait
        for EOF; drop: the same, then close TCP without close_notify;
        garbage: send junk where the ClientHello belongs; stall: send the
        greeting and nothing else; longauth: a 5000-byte auth line inside
        TLS; hmac: an hmac_md6_64_256 line inside TLS (always rejected).
Prints our two lines, the node's two lines and its auth line on stdout.
"""
import socket
import ssl
import sys
import time

port, pem, role, mode = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
target = sys.argv[5] if len(sys.argv) > 5 else ""
client = role == "client"

g1 = "aemp;1;pyc;tls_anon,tls_md6_64_256;json;tls=1.0;provider=pytls"
g2 = ("+" if client else "z") * 88

sock = socket.create_connection(("127.0.0.1", int(port)), timeout=10)
rest = b""


def line():
    global rest
    while b"\n" not in rest:
        got = sock.recv(65536)
        if not got:
            sys.exit("EOF in greeting")
        rest += got
    text, rest = rest.split(b"\n", 1)
    return text.decode()


ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT if client else
                     ssl.PROTOCOL_TLS_SERVER)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_REQUIRED
ctx.minimum_version = ssl.TLSVersion.TLSv1_2
ctx.load_cert_chain(pem)
ctx.load_verify_locations(pem)
inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
tls = ctx.wrap_bio(inc, out, server_side=not client)

greeting = (g1 + "\n" + g2 + "\n").encode()
if mode == "garbage":
    sock.sendall(greeting + b"\x16\x03\x01\x7f\xffnot a client hello" * 50)
elif mode == "stall":
    sock.sendall(greeting)
elif client:
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    # the greeting and the ClientHello in one write (10.4)
    sock.sendall(greeting + out.read())
else:
    sock.sendall(greeting)
n1, n2 = line(), line()
print(g1, g2, n1, n2, sep="\n", flush=True)
if mode in ("garbage", "stall"):
    sock.settimeout(30)
    while sock.recv(65536):
        pass
    sys.exit(0)
inc.write(rest)


def pump():
    """Sends what TLS made, reads what the socket has into TLS."""
    data = out.read()
    if data:
        sock.sendall(data)
    got = sock.recv(65536)
    if not got:
        raise EOFError
    inc.write(got)


while True:
    try:
        tls.do_handshake()
        break
    except ssl.SSLWantReadError:
        pump()
data = out.read()
if data:
    sock.sendall(data)

if mode in ("longauth", "hmac"):
    if mode == "hmac":
        tls.write(b"hmac_md6_64_256;" + b"0" * 64 + b";json\n")
    else:
        tls.write(b"tls_anon;" + b"x" * 5000)
    sock.sendall(out.read())
    sock.settimeout(10)
    try:
        while sock.recv(65536):
            pass
    except OSError:
        pass
    sys.exit(0)

tls.write(b"tls_anon;;json\n")
sock.sendall(out.read())
buf = b""
while b"\n" not in buf:
    try:
        buf += tls.read(65536)
    except ssl.SSLWantReadError:
        pump()
auth, buf = buf.split(b"\n", 1)
print(auth.decode(), flush=True)
tls.write(('["%s","hello from python"]' % target).encode())
sock.sendall(out.read())
if mode == "drop":
    time.sleep(0.5)
    sock.close()  # no close_notify
    sys.exit(0)
try:
    while True:
        try:
            tls.read(65536)
        except ssl.SSLWantReadError:
            pump()
except (EOFError, ssl.SSLError, OSError):
    pass
