#!/usr/bin/env python3
"""check_records.py - compare what the recorder test plugin handled with what
was produced and what the group committed. No Kafka access: it reads files.

  --produced FILE   "TOPIC PARTITION OFFSET KEY" per produced message (from
                    `kt.py produce --out`)
  --records FILE    the recorder's file, "TOPIC PARTITION OFFSET KEY ATTEMPT"
  --committed JSON  {"P": offset} (inline JSON or @file); checks that every
                    produced offset below the committed one was handled, and
                    that nothing is committed past the end
  --require-all     every produced message must have been handled
  --label TEXT      prefix of the report lines

Always checked: every record line is well formed, names a produced message
with the key it was produced with, and each partition is handled in offset
order: when offset o is recorded, every lower produced offset of that
partition is already in the file (redeliveries may go back; nothing may be
handled before a lower offset was).

Prints one line per check and a summary; exit 1 if any check failed.
"""
import argparse
import json
import sys
from collections import Counter, defaultdict


def load_json(arg):
    if arg.startswith("@"):
        with open(arg[1:]) as f:
            return json.load(f)
    return json.loads(arg)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--produced", required=True)
    ap.add_argument("--records", required=True)
    ap.add_argument("--committed")
    ap.add_argument("--require-all", action="store_true")
    ap.add_argument("--label", default="check")
    args = ap.parse_args()

    failures = []

    def fail(msg):
        failures.append(msg)
        print("[%s] FAIL: %s" % (args.label, msg), flush=True)

    def ok(msg):
        print("[%s] ok: %s" % (args.label, msg), flush=True)

    produced = {}  # (partition, offset) -> key
    topics = set()
    with open(args.produced) as f:
        for n, line in enumerate(f, 1):
            fields = line.split()
            if len(fields) != 4:
                raise SystemExit("%s:%d: malformed produced line %r" % (args.produced, n, line))
            topics.add(fields[0])
            produced[(int(fields[1]), int(fields[2]))] = fields[3]
    if len(topics) != 1:
        raise SystemExit("%s: expected one topic, found %s" % (args.produced, sorted(topics)))
    (topic,) = topics
    by_part = defaultdict(list)
    for (p, off) in produced:
        by_part[p].append(off)
    for p in by_part:
        by_part[p].sort()

    counts = Counter()
    attempts = Counter()
    bad_lines = []
    out_of_order = []
    out_of_order_count = 0
    # Per partition: the lowest produced offset not yet seen. A record ahead
    # of it means a message was handled while a lower one never had been.
    next_unseen = {p: 0 for p in by_part}
    seen = set()
    lines = 0
    with open(args.records) as f:
        for n, line in enumerate(f, 1):
            lines += 1
            fields = line.split()
            try:
                if len(fields) != 5 or fields[0] != topic:
                    raise ValueError
                p, off, key, att = int(fields[1]), int(fields[2]), fields[3], int(fields[4])
            except ValueError:
                bad_lines.append("%d: %r" % (n, line))
                continue
            want = produced.get((p, off))
            if want is None or want != key:
                bad_lines.append("%d: %r (produced key at %d/%d: %s)" % (n, line.strip(), p, off, want))
                continue
            counts[(p, off)] += 1
            attempts[att] += 1
            seen.add((p, off))
            offs = by_part[p]
            i = next_unseen[p]
            if i < len(offs) and off > offs[i]:
                out_of_order_count += 1
                if len(out_of_order) < 5:
                    out_of_order.append("line %d: partition %d offset %d handled before offset %d"
                                        % (n, p, off, offs[i]))
            while i < len(offs) and (p, offs[i]) in seen:
                i += 1
            next_unseen[p] = i

    if bad_lines:
        fail("%d record lines are malformed or do not match a produced message, e.g. %s"
             % (len(bad_lines), "; ".join(bad_lines[:5])))
    else:
        ok("%d record lines, all naming a produced message with its key" % lines)

    if out_of_order_count:
        fail("%d records handled ahead of a lower unhandled offset, e.g. %s"
             % (out_of_order_count, "; ".join(out_of_order)))
    else:
        ok("every partition handled in offset order (no offset before a lower one)")

    missing = sorted(k for k in produced if k not in seen)
    if args.require_all:
        if missing:
            fail("%d of %d produced messages were never handled, e.g. %s"
                 % (len(missing), len(produced), missing[:10]))
        else:
            ok("all %d produced messages handled at least once" % len(produced))

    if args.committed:
        committed = {int(p): int(c) for p, c in load_json(args.committed).items()}
        for p in sorted(by_part):
            c = committed.get(p)
            offs = by_part[p]
            end = offs[-1] + 1
            if c is None:
                ok("partition %d: nothing committed" % p)
                continue
            if c > end:
                fail("partition %d: committed %d is past the end offset %d" % (p, c, end))
                continue
            holes = [o for o in offs if o < c and (p, o) not in seen]
            if holes:
                fail("partition %d: committed %d but %d offsets below it were never handled, "
                     "e.g. %s" % (p, c, len(holes), holes[:10]))
            else:
                handled_prefix = next_unseen[p]
                ok("partition %d: committed %d, every offset below it handled "
                   "(handled prefix %d of %d)" % (p, c, handled_prefix, len(offs)))
        extra = sorted(set(committed) - set(by_part))
        if extra:
            fail("commits for partitions that were not produced to: %s" % extra)

    twice = sum(1 for k, v in counts.items() if v >= 2)
    extra_runs = sum(v - 1 for v in counts.values() if v >= 2)
    per_part = {p: sum(1 for o in by_part[p] if (p, o) in seen) for p in sorted(by_part)}
    print("[%s] info: %d distinct of %d produced handled %s; %d handled more than once "
          "(%d extra handlings); attempts seen %s"
          % (args.label, len(seen), len(produced), json.dumps(per_part), twice, extra_runs,
             dict(sorted(attempts.items()))), flush=True)
    print(json.dumps({"label": args.label, "lines": lines, "distinct": len(seen),
                      "produced": len(produced), "twice": twice, "failures": len(failures)}))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
