#!/usr/bin/env python3
"""smtp-size.py PORT SOURCE SIZE BYTES [PAD]: one SMTP session to
127.0.0.1:PORT from address SOURCE that declares MAIL FROM:<...> SIZE=SIZE
and then sends a message of about BYTES bytes (headers and a body of 100-byte
lines); with PAD, about PAD of them in a folded X-Pad header.  Prints
a transcript in swaks' form (" -> COMMAND", "<-  REPLY") for lib.sh's
try_reply; exits 0 when the message was accepted, 1 otherwise.
"""
import smtplib
import sys


def show(cmd, reply):
    print(" -> " + cmd)
    code, msg = reply
    lines = msg.decode("utf-8", "replace").split("\n") or [""]
    for i, line in enumerate(lines):
        sep = "-" if i < len(lines) - 1 else " "
        print("<-  %d%s%s" % (code, sep, line))
    return code


def main():
    port, source, size, nbytes = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    pad = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    s = smtplib.SMTP(timeout=30, source_address=(source, 0))
    show("(connect)", s.connect("127.0.0.1", int(port)))
    show("EHLO client.e2e.test", s.ehlo("client.e2e.test"))
    if show("MAIL FROM:<sender@client.e2e.test> SIZE=" + size,
            s.mail("sender@client.e2e.test", ["SIZE=" + size])) != 250:
        return 1
    if show("RCPT TO:<user@example.com>", s.rcpt("user@example.com")) != 250:
        return 1
    s.putcmd("data")
    if show("DATA", s.getreply()) != 354:
        return 1
    head = ("From: <sender@client.e2e.test>\r\nTo: <user@example.com>\r\n"
            "Subject: declared SIZE=%s, sent %d bytes\r\n" % (size, nbytes))
    if pad > 0:
        head += "X-Pad: x\r\n" + (" " + "x" * 97 + "\r\n") * (pad // 100)
    head += "\r\n"
    line = b"x" * 98 + b"\r\n"
    body = line * max(0, (nbytes - len(head)) // len(line))
    s.send(head.encode() + body + b".\r\n")
    code = show(".", s.getreply())
    show("QUIT", s.quit())
    return 0 if code == 250 else 1


sys.exit(main())
