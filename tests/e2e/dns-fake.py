#!/usr/bin/env python3
"""A DNS server on a loopback UDP port that fails on purpose, for the
DNS list tests: "silent" reads every query and never answers (a dead
list: timeouts); "servfail" answers every query with SERVFAIL.
Usage: dns-fake.py MODE PORT"""
import socket
import sys


def main():
    mode, port = sys.argv[1], int(sys.argv[2])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", port))
    while True:
        q, peer = s.recvfrom(4096)
        if mode == "silent" or len(q) < 12:
            continue
        # same id and question; QR=1, the RD bit kept, RA=1, RCODE=2
        flags = 0x8000 | (q[2] << 8 & 0x0100) | 0x0080 | 2
        s.sendto(q[:2] + flags.to_bytes(2, "big") + q[4:6] + bytes(6) + q[12:], peer)


if __name__ == "__main__":
    main()
