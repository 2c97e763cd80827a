#!/usr/bin/env python3
"""A fake Redis for tests/e2e/test_failure.sh: a server that answers wrong.

    redis-garbage.py PORT MODEFILE SERVEDLOG

Listens on 127.0.0.1:PORT (loopback only) and reads the client's RESP
commands.  Before each answer it reads MODEFILE, one word:

  ok       SCRIPT LOAD gets a SHA, EVALSHA "allowed" ({1, 0, 1, 0}),
           anything else +OK: a Redis that works, for the tests to see the
           milter come back
  garbage  bytes that are not RESP at all (a bad type byte, a bad length)
  types    well-formed RESP of the wrong type or shape for the command
  silent   nothing, ever: the milter's timeout has to end the wait
  slow     the answers of "ok", a byte every 100 ms: the milter's timeout
           bounds the whole answer, not each read
  huge     EVALSHA gets an answer no Redis script gives: a header of a
           10^9-element array alone, the same followed by integers, and a
           10^9-byte bulk string; the bodies stream (up to 32 MB) until
           the milter hangs up.  The milter must refuse them before
           allocating: answer within its timeout, its memory flat

Each answer it gives (or withholds) is appended to SERVEDLOG as
"MODE VARIANT" (silent: "silent N", the Nth command left unanswered), so
the test knows which ones the milter really met.
"""
import socketserver
import sys
import threading
import time

SHA = b"0123456789abcdef0123456789abcdef01234567"

# Answers to EVALSHA that are valid RESP but not the script's {int x4}.
# The first ones look most like an answer (an array of four), so a milter
# that does not check types would take them for a verdict.
TYPES = [
    ("nil-array", b"*4\r\n$-1\r\n$-1\r\n$-1\r\n$-1\r\n"),
    ("string-array", b"*4\r\n$1\r\n0\r\n$1\r\n5\r\n$1\r\n1\r\n$1\r\n1\r\n"),
    ("nested-array", b"*4\r\n*0\r\n*1\r\n:0\r\n*0\r\n*0\r\n"),
    ("negative", b"*4\r\n:0\r\n:-1\r\n:-1\r\n:-1\r\n"),
    ("error-ctl", b"-ERR bad\x1b[31m answer\x07\r\n"),
    # the script is "gone": the milter loads it again, and gets an integer
    ("noscript", b"-NOSCRIPT No matching script\r\n"),
    ("short-array", b"*3\r\n:1\r\n:0\r\n:1\r\n"),
    ("integer", b":1\r\n"),
    ("status", b"+OK\r\n"),
    ("nil", b"$-1\r\n"),
]

# Answers to EVALSHA that announce more than any reply this store asks
# for: (name, header, body streamed after it or None).
HUGE = [
    ("array-header", b"*1000000000\r\n", None),
    ("array-stream", b"*1000000000\r\n", b":1\r\n"),
    ("bulk-stream", b"$1000000000\r\n", b"x"),
]
STREAM_MAX = 32 << 20

GARBAGE = [
    ("type-byte", b"\x00\xffHTTP/1.0 400 Bad Request\r\n"),
    ("bulk-length", b"$-7\r\nxx\r\n"),
    ("array-length", b"*abc\r\n"),
    ("html", b"<html>not redis</html>\r\n"),
]

lock = threading.Lock()
counters = {"types": 0, "garbage": 0, "load": 0, "silent": 0, "slow": 0,
            "huge": 0}


def mode():
    try:
        with open(sys.argv[2]) as f:
            return f.read().strip() or "ok"
    except OSError:
        return "ok"


def served(what):
    with lock, open(sys.argv[3], "a") as f:
        f.write(what + "\n")


def next_of(kind, table):
    with lock:
        i = counters[kind]
        counters[kind] += 1
    return table[i % len(table)]


class Handler(socketserver.StreamRequestHandler):
    def read_command(self):
        """One RESP array of bulk strings; None at EOF."""
        line = self.rfile.readline()
        if not line:
            return None
        if not line.startswith(b"*"):
            return [line.strip()]  # an inline command
        args = []
        for _ in range(int(line[1:])):
            n = int(self.rfile.readline()[1:])
            args.append(self.rfile.read(n + 2)[:n])
        return args

    def answer(self, args):
        m = mode()
        cmd = args[0].upper() if args else b""
        if m == "silent":
            with lock:
                counters["silent"] += 1
                n = counters["silent"]
            served("silent %d" % n)
            return b""
        if m == "slow":
            with lock:
                counters["slow"] += 1
                n = counters["slow"]
            served("slow %d" % n)
            m = "ok"
        elif m == "garbage":
            name, data = next_of("garbage", GARBAGE)
            served("garbage " + name)
            return data
        if cmd == b"SCRIPT":
            if m == "types":
                # every other SCRIPT LOAD gets an integer, not a SHA
                with lock:
                    counters["load"] += 1
                    odd = counters["load"] % 2
                if odd:
                    served("types script-load-integer")
                    return b":40\r\n"
            served(m + " script-load")
            return b"$40\r\n" + SHA + b"\r\n"
        if cmd == b"EVALSHA":
            if m == "huge":
                name, head, body = next_of("huge", HUGE)
                served("huge " + name)
                return (head, body)
            if m == "types":
                name, data = next_of("types", TYPES)
                served("types " + name)
                return data
            served("ok evalsha")
            return b"*4\r\n:1\r\n:0\r\n:1\r\n:0\r\n"
        served(m + " other")
        return b"+OK\r\n"

    def handle(self):
        while True:
            try:
                args = self.read_command()
            except (ValueError, OSError):
                return
            if args is None:
                return
            slow = mode() == "slow"
            data = self.answer(args)
            if isinstance(data, tuple):
                if not self.stream(*data):
                    return
                continue
            try:
                for i in range(len(data)) if slow else []:
                    time.sleep(0.1)
                    self.wfile.write(data[i:i + 1])
                    self.wfile.flush()
                if data and not slow:
                    self.wfile.write(data)
                    self.wfile.flush()
            except OSError:
                return


    def stream(self, head, body):
        """head, then body over and over up to STREAM_MAX bytes; False
        once the client has gone."""
        try:
            self.wfile.write(head)
            self.wfile.flush()
            if body is not None:
                chunk = body * (65536 // len(body))
                for _ in range(STREAM_MAX // len(chunk)):
                    self.wfile.write(chunk)
                self.wfile.flush()
        except OSError:
            return False
        return True


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    srv = Server(("127.0.0.1", int(sys.argv[1])), Handler)
    srv.serve_forever()


if __name__ == "__main__":
    main()
