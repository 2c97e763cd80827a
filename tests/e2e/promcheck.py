#!/usr/bin/env python3
"""promcheck.py FILE: a small checker of the Prometheus text exposition
format (version 0.0.4), for test_metrics.sh, where promtool (Debian's
prometheus package, 96 MB installed) is too big to install for a test.

Checks: every line a # HELP / # TYPE comment or a sample; names and label
names valid; one TYPE per family, before its samples; counters named
*_total; label values quoted and escaped; no series twice; values
numbers; a histogram's buckets ascending in le, cumulative, ending in
+Inf equal to _count, with a _sum.  Exit 0 and "ok N samples", or 1 and
the problems, one per line."""
import re
import sys

NAME = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*'
SAMPLE = re.compile(r'^(' + NAME + r')(\{(.*)\})? (\S+)( -?\d+)?$')
PAIR = re.compile(r'(' + LABEL + r')="((?:[^"\\\n]|\\[\\"n])*)"(,|$)')


def labels_of(text):
    out, pos = [], 0
    while pos < len(text):
        m = PAIR.match(text, pos)
        if not m:
            return None
        out.append((m.group(1), m.group(2)))
        pos = m.end()
    return out


def family(name, types):
    for suffix in ('_bucket', '_sum', '_count'):
        base = name[:-len(suffix)]
        if name.endswith(suffix) and types.get(base) == 'histogram':
            return base
    return name


def check(lines):
    errs, types, seen, hist, n = [], {}, set(), {}, 0
    for i, line in enumerate(lines, 1):
        if line.startswith('#'):
            p = line.split(' ', 3)
            if len(p) >= 3 and p[1] == 'TYPE':
                if p[2] in types:
                    errs.append(f'{i}: TYPE {p[2]} twice')
                if len(p) < 4 or p[3] not in ('counter', 'gauge', 'histogram', 'summary', 'untyped'):
                    errs.append(f'{i}: bad TYPE line')
                else:
                    types[p[2]] = p[3]
                    if p[3] == 'counter' and not p[2].endswith('_total'):
                        errs.append(f'{i}: counter {p[2]} not named *_total')
            elif len(p) < 3 or p[1] != 'HELP' or not re.fullmatch(NAME, p[2]):
                errs.append(f'{i}: bad comment: {line}')
            continue
        m = SAMPLE.match(line)
        if not m:
            errs.append(f'{i}: not a sample: {line}')
            continue
        name, lab, value = m.group(1), labels_of(m.group(3) or ''), m.group(4)
        n += 1
        if lab is None:
            errs.append(f'{i}: bad labels: {line}')
            continue
        fam = family(name, types)
        if fam not in types:
            errs.append(f'{i}: {name} has no TYPE before it')
        key = (name, tuple(sorted(lab)))
        if key in seen:
            errs.append(f'{i}: series twice: {line}')
        seen.add(key)
        try:
            v = float(value)
        except ValueError:
            errs.append(f'{i}: value not a number: {line}')
            continue
        if types.get(fam) == 'histogram':
            h = hist.setdefault(fam, {'buckets': [], 'count': None, 'sum': None})
            if name.endswith('_bucket'):
                le = dict(lab).get('le')
                if le is None:
                    errs.append(f'{i}: bucket without le')
                else:
                    h['buckets'].append((float(le), v))
            elif name.endswith('_count'):
                h['count'] = v
            elif name.endswith('_sum'):
                h['sum'] = v
    for fam, h in hist.items():
        b = h['buckets']
        if not b or b[-1][0] != float('inf'):
            errs.append(f'{fam}: no +Inf bucket last')
        if any(b[k][0] >= b[k + 1][0] or b[k][1] > b[k + 1][1] for k in range(len(b) - 1)):
            errs.append(f'{fam}: buckets not ascending and cumulative')
        if h['sum'] is None or h['count'] is None or (b and b[-1][1] != h['count']):
            errs.append(f'{fam}: _sum/_count missing or +Inf bucket != _count')
    return errs, n


def main():
    with open(sys.argv[1], encoding='utf-8') as f:
        text = f.read()
    if not text.endswith('\n'):
        print('no newline at the end')
        return 1
    errs, n = check(text.splitlines())
    for e in errs:
        print(e)
    if not errs:
        print(f'ok {n} samples')
    return 1 if errs else 0


if __name__ == '__main__':
    sys.exit(main())
