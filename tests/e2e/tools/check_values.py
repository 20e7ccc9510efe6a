#!/usr/bin/env python3
"""check_values.py - compare the decoded records the recorder test plugin
wrote (`values: true`) with what avro_produce.py produced. Reads files only.

  --produced FILE [FILE ...]  avro_produce.py produce --out files (JSON lines)
  --records FILE              the recorder's file:
                              TOPIC PARTITION OFFSET KEY ATTEMPT SCHEMA_ID {json}
  --require-all               every produced message must be recorded
  --blocked P:O               partition P is held at offset O: nothing at or
                              past O may be recorded on P, everything produced
                              below O must be (repeatable); --require-all then
                              applies to the other partitions
  --label TEXT                prefix of the report lines

Checked for every record line: it names a produced message (partition,
offset) with its key; the schema id is the one the message was framed with;
the JSON is exactly the record resolved into the reader schema, by two
oracles that must agree: fastavro's resolution (from the produced file) and
the rules written out below (defaults filled, removed fields absent,
int -> long and float -> double promotions keeping the value).
Messages recorded more than once (at-least-once) are counted, each copy is
checked. Exit 1 if any check failed.
"""
import argparse
import json
import struct
import sys
from collections import Counter, defaultdict

def float32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def rule_expectation(label, written):
    """The v3 reader's view of a record written with `label`, by hand."""
    price = written["price"]
    if label in ("v1", "v2"):
        price = float32(price)  # a float on the wire, widened to double
    return {
        "id": written["id"],
        "qty": written["qty"],
        "price": price,
        "channel": written.get("channel", "web"),   # reader default for v1
        "priority": written.get("priority", 3),      # reader default for v1, v2
    }


def same(a, b):
    """Equal as JSON values, with int and float kept apart (a long that came
    back as 5.0 is a bug)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    if isinstance(a, float) and isinstance(b, float):
        return a == b
    return type(a) is type(b) and a == b


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--produced", nargs="+", required=True)
    ap.add_argument("--records", required=True)
    ap.add_argument("--require-all", action="store_true")
    ap.add_argument("--blocked", action="append", default=[])
    ap.add_argument("--label", default="values")
    args = ap.parse_args()

    failures = []

    def fail(msg):
        failures.append(msg)
        print("[%s] FAIL: %s" % (args.label, msg), flush=True)

    def ok(msg):
        print("[%s] ok: %s" % (args.label, msg), flush=True)

    produced = {}
    for path in args.produced:
        with open(path) as f:
            for n, line in enumerate(f, 1):
                m = json.loads(line)
                k = (m["p"], m["o"])
                if k in produced:
                    raise SystemExit("%s:%d: offset %s produced twice?" % (path, n, k))
                produced[k] = m
    blocked = {}
    for b in args.blocked:
        p, _, o = b.partition(":")
        blocked[int(p)] = int(o)

    # The two oracles must agree before either is used.
    oracle_bad = [k for k, m in produced.items()
                  if not same(m["expected"], rule_expectation(m["label"], m["written"]))]
    if oracle_bad:
        k = oracle_bad[0]
        fail("fastavro's resolution and the written-out rules disagree on %d messages, e.g. "
             "%s: fastavro %s, rules %s" % (len(oracle_bad), k, produced[k]["expected"],
                                            rule_expectation(produced[k]["label"],
                                                             produced[k]["written"])))

    counts = Counter()
    bad = []
    wrong_value = []
    past_block = []
    by_label = Counter()
    lines = 0
    with open(args.records) as f:
        for n, line in enumerate(f, 1):
            lines += 1
            fields = line.rstrip("\n").split(" ", 6)
            try:
                if len(fields) != 7:
                    raise ValueError("expected 7 fields")
                p, o, key = int(fields[1]), int(fields[2]), fields[3]
                sid = int(fields[5])
                value = json.loads(fields[6])
            except ValueError as e:
                bad.append("line %d: %s: %r" % (n, e, line[:200]))
                continue
            m = produced.get((p, o))
            if m is None or m["key"] != key:
                bad.append("line %d: %d/%d key %s is not a produced message (produced: %s)"
                           % (n, p, o, key, m and m["key"]))
                continue
            counts[(p, o)] += 1
            if p in blocked and o >= blocked[p]:
                past_block.append((p, "line %d: offset %d (%s, schema id %d)"
                                      % (n, o, m["label"], m["schema_id"])))
            if sid != m["schema_id"]:
                wrong_value.append("line %d: %d/%d schema id %d, produced with %d"
                                   % (n, p, o, sid, m["schema_id"]))
            elif not same(value, m["expected"]):
                wrong_value.append("line %d: %d/%d (%s) recorded %s, expected %s"
                                   % (n, p, o, m["label"], json.dumps(value),
                                      json.dumps(m["expected"])))
            else:
                by_label[m["label"]] += 1

    if bad:
        fail("%d record lines malformed or not naming a produced message, e.g. %s"
             % (len(bad), "; ".join(bad[:5])))
    else:
        ok("%d record lines, all naming a produced message with its key" % lines)
    if wrong_value:
        fail("%d records with a wrong schema id or value, e.g. %s"
             % (len(wrong_value), "; ".join(wrong_value[:5])))
    else:
        ok("every record has the framed schema id and the resolved value (per writer: %s)"
           % json.dumps(dict(sorted(by_label.items()))))
    for p, o in sorted(blocked.items()):
        mine = [text for bp, text in past_block if bp == p]
        if mine:
            fail("partition %d is held at offset %d but %d records at or past it were "
                 "handled, e.g. %s" % (p, o, len(mine), "; ".join(mine[:5])))
        else:
            ok("partition %d: nothing at or past offset %d handled" % (p, o))
        below = sorted(k for k in produced if k[0] == p and k[1] < o and k not in counts)
        if below:
            fail("partition %d: %d produced messages below %d never handled, e.g. %s"
                 % (p, len(below), o, below[:10]))
        else:
            ok("partition %d: every produced message below offset %d handled" % (p, o))
    if args.require_all:
        missing = sorted(k for k in produced if k[0] not in blocked and k not in counts)
        if missing:
            fail("%d of %d produced messages never handled, e.g. %s"
                 % (len(missing), len(produced), missing[:10]))
        else:
            n = sum(1 for k in produced if k[0] not in blocked)
            ok("all %d produced messages%s handled" %
               (n, " outside the held partitions" if blocked else ""))

    twice = sum(1 for v in counts.values() if v > 1)
    per_part = defaultdict(int)
    for (p, _o) in counts:
        per_part[p] += 1
    print("[%s] info: %d distinct of %d produced handled %s; %d handled more than once"
          % (args.label, len(counts), len(produced), json.dumps(dict(sorted(per_part.items()))),
             twice), flush=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
