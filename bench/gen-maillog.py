#!/usr/bin/env python3
"""Writes a Postfix mail log of N lines (default 1,000,000) to stdout for
the replay benchmark: 5,000 clients (a few of them heavy senders), some
authenticated, bounces, recipients Postfix refuses itself, several
smtpd processes at once so queue IDs interleave, lines of other
programs.  Deterministic (a fixed seed)."""
import random
import sys

N = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
rnd = random.Random(8)
out = sys.stdout
lines = 0
t = 1796083200  # 2026-12-01 00:00:00
qid = 0x10000000


def emit(s, text):
    global lines
    h, m, sec = s // 3600 % 24, s // 60 % 60, s % 60
    out.write("Dec %2d %02d:%02d:%02d mx %s\n" % (1 + s // 86400 % 28, h, m, sec, text))
    lines += 1


def client():
    if rnd.random() < 0.2:
        return "192.0.2.%d" % rnd.randrange(1, 20)  # heavy senders
    return "198.51.%d.%d" % (rnd.randrange(0, 20), rnd.randrange(1, 250))


pending = []  # (time, lines) delivered later, out of order
while lines < N:
    t += rnd.choice((0, 0, 1))
    pid = 1000 + rnd.randrange(8)
    c = client()
    emit(t, "postfix/smtpd[%d]: connect from unknown[%s]" % (pid, c))
    for _ in range(rnd.choice((1, 1, 1, 2, 3))):
        sender = "<>" if rnd.random() < 0.05 else "u%d@s%d.example" % (rnd.randrange(50), rnd.randrange(500))
        if rnd.random() < 0.05:
            emit(t, "postfix/smtpd[%d]: NOQUEUE: reject: RCPT from unknown[%s]: 554 5.7.1 "
                 "<x@other.test>: Relay access denied; from=%s to=<x@other.test> proto=ESMTP "
                 "helo=<h.example>" % (pid, c, sender if sender == "<>" else "<%s>" % sender))
            continue
        qid += rnd.randrange(1, 50)
        q = "%X" % qid
        user = ", sasl_method=PLAIN, sasl_username=user%d" % rnd.randrange(200) if rnd.random() < 0.1 else ""
        emit(t, "postfix/smtpd[%d]: %s: client=unknown[%s]%s" % (pid, q, c, user))
        emit(t, "postfix/cleanup[%d]: %s: message-id=<%d.%s@s.example>" % (pid + 100, q, t, q))
        n = rnd.choice((1, 1, 2, 5))
        emit(t, "postfix/qmgr[99]: %s: from=%s, size=%d, nrcpt=%d (queue active)"
             % (q, sender if sender == "<>" else "<%s>" % sender, rnd.randrange(500, 50000), n))
        later = [(t + rnd.randrange(0, 3), "postfix/smtp[%d]: %s: to=<r%d@example.com>, relay=x[127.0.0.1]:25, "
                  "delay=0.1, dsn=2.0.0, status=sent (250 ok)" % (pid + 200, q, i)) for i in range(n)]
        later.append((later[-1][0], "postfix/qmgr[99]: %s: removed" % q))
        pending.append(later)
    emit(t, "postfix/smtpd[%d]: disconnect from unknown[%s] ehlo=1 mail=1 quit=1 commands=3" % (pid, c))
    if rnd.random() < 0.01:
        emit(t, "dovecot[7]: imap-login: Login: user=<u>, method=PLAIN")
    while len(pending) > 20:  # deliveries trail their messages
        for s, text in pending.pop(0):
            emit(s, text)
for batch in pending:
    for s, text in batch:
        emit(s, text)
