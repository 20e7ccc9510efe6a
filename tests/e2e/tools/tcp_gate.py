#!/usr/bin/env python3
"""tcp_gate.py - a TCP forwarder on 127.0.0.1 whose upstream can be switched
or shut while it runs, so a test can replace a server behind a fixed
address without the client seeing the replacement before it is ready.

Why the schema-registry outage test needs it: an in-memory registry
restarted on the client's address is reachable, and empty, before the test
has re-registered its schemas; seam would (rightly) dead-letter a message
whose id a reachable registry does not know. Behind the gate, seam sees the
outage until the new registry holds the same ids, then the new registry.

  tcp_gate.py --control FILE --port-file FILE [--port N]

Binds 127.0.0.1 (port N, or a free one written to --port-file), down until
the control file says otherwise. The control file holds one line, re-read
every 50 ms:
  forward HOST:PORT   accept and forward to HOST:PORT; when the upstream
                      refuses, the client's connection is reset
  down                the port stays bound but does not listen (clients
                      get "connection refused"); open connections are reset
After applying a line the gate writes it to FILE.state (so a test can wait
for it). SIGTERM stops it.
"""
import argparse
import os
import signal
import socket
import struct
import sys
import threading
import time


def log(msg):
    print("[tcp_gate] %s %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


class Gate:
    def __init__(self, port):
        self.port = port
        self.listener = None  # listening socket while forwarding
        self.bound = None     # bound, not listening, while down
        self.upstream = None
        self.lock = threading.Lock()
        self.conns = set()

    def bind(self):
        """A socket bound to the gate's port but not listening: connections
        are refused, and no other process can take the port meanwhile."""
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # The closed listener stays in LISTEN until the accept thread's poll
        # (0.1 s timeout) lets go of it: retry for a while.
        deadline = time.monotonic() + 5
        while True:
            try:
                s.bind(("127.0.0.1", self.port))
                break
            except OSError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.02)
        s.settimeout(0.1)
        self.port = s.getsockname()[1]
        return s

    def close_all(self):
        with self.lock:
            conns = list(self.conns)
            self.conns.clear()
        for c in conns:
            reset(c)

    def apply(self, line):
        words = line.split()
        if words == ["down"]:
            self.upstream = None
            if self.listener:
                old, self.listener = self.listener, None
                old.close()
                self.bound = self.bind()
            self.close_all()
        elif len(words) == 2 and words[0] == "forward":
            host, _, port = words[1].rpartition(":")
            self.upstream = (host, int(port))
            if not self.listener:
                self.bound.listen(64)
                self.listener, self.bound = self.bound, None
        else:
            log("ignoring control line %r" % line)
            return False
        log("now: %s" % line)
        return True

    def accept_loop(self):
        while True:
            lst = self.listener
            if lst is None:
                time.sleep(0.05)
                continue
            try:
                client, _ = lst.accept()
            except socket.timeout:
                continue
            except OSError:
                continue  # closed by "down"
            up = self.upstream
            if up is None:
                reset(client)
                continue
            threading.Thread(target=self.serve, args=(client, up), daemon=True).start()

    def serve(self, client, up):
        try:
            server = socket.create_connection(up, timeout=5)
        except OSError:
            reset(client)  # the upstream is gone: the client sees a reset
            return
        server.settimeout(None)
        with self.lock:
            self.conns.update((client, server))
        t = threading.Thread(target=pump, args=(server, client, self), daemon=True)
        t.start()
        pump(client, server, self)
        t.join()


def reset(sock):
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


def pump(src, dst, gate):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    try:
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    with gate.lock:
        gone = src in gate.conns
        gate.conns.discard(src)
    if gone:
        try:
            src.close()
        except OSError:
            pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--control", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()

    gate = Gate(args.port)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # Bind first, so the port is known (and held) before any upstream.
    gate.bound = gate.bind()
    with open(args.port_file + ".tmp", "w") as f:
        f.write("%d\n" % gate.port)
    os.replace(args.port_file + ".tmp", args.port_file)
    log("bound to 127.0.0.1:%d, down until told to forward" % gate.port)
    threading.Thread(target=gate.accept_loop, daemon=True).start()
    last = None
    while True:
        try:
            with open(args.control) as f:
                line = f.read().strip()
        except OSError:
            line = None
        if line and line != last:
            if gate.apply(line):
                with open(args.control + ".state.tmp", "w") as f:
                    f.write(line + "\n")
                os.replace(args.control + ".state.tmp", args.control + ".state")
            last = line
        time.sleep(0.05)


if __name__ == "__main__":
    main()
