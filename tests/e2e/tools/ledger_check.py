#!/usr/bin/env python3
"""ledger_check.py - what the ledger chaos test checks, from files and
PostgreSQL (read with psql, COPY ... TO STDOUT; no driver in the venv).
Both subcommands print one "[check] ok:/FAIL:" line per check and a summary
line; exit 1 if any check failed.

  ledger --produced FILE --dsn DSN --group G --topic T --end JSON
         [--dedup-table seam_dedup] [--db-offsets]
      FILE is payments_produce.py's --out; JSON the topic's end offsets
      ({"P": end}, inline or @file). Checks that:
        - every distinct payment_id is in ledger_entries exactly once
          (zero missing, zero extra), with the account, amount, currency,
          kind, time and description it was produced with, booked from
          (partition, offset) of one of its copies;
        - every account balance equals the sum of its distinct payments,
          and its entry count their number;
        - the dedup table holds exactly the distinct payment_ids for the
          group (scope), so distinct = produced - duplicates;
        - with --db-offsets: seam_offsets has a row per partition, never
          past the end, and every message from it to the end is a copy of
          a payment booked from another message (the inbox stores the
          offset of applied messages only; skipped duplicates move the
          Kafka commit, not the database's).

  records --produced FILE --run RECORDS[:COMMITTED_JSON_FILE] ...
      The embedded-store run with the recorder plugin (`values: true`): one
      --run per seam process in order, with the group's committed offsets
      read right after that process was SIGKILLed (none for the last,
      stopped cleanly). Checks that:
        - every record names a produced message and carries its
          payment_id;
        - every distinct payment_id was handled;
        - no payment_id was handled twice by one process (a duplicate in
          the stream is skipped);
        - a payment handled by a later process again was, in the earlier
          (killed) one, handled at an offset its partition had not
          committed at the kill: the kill fell between its handle() and
          the flush of its mark, the one window the embedded store leaves.
          Handled again after its offset was committed = its mark was not
          durable before the commit: FAIL.
      The number of payments handled twice is printed.
"""
import argparse
import json
import os
import subprocess
import sys
from collections import Counter, defaultdict

FAILED = []


def check(ok, what):
    print("[check] %s: %s" % ("ok" if ok else "FAIL", what), flush=True)
    if not ok:
        FAILED.append(what)


def load_json(arg):
    if arg.startswith("@"):
        with open(arg[1:]) as f:
            return json.load(f)
    return json.loads(arg)


def load_produced(path):
    msgs = []
    with open(path) as f:
        for line in f:
            msgs.append(json.loads(line))
    return msgs


def copy_out(dsn, sql):
    """Rows of `sql` as lists of text (None for NULL), through psql."""
    psql = os.environ.get("PSQL", "psql")
    cmd = [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn,
           "-c", "COPY (%s) TO STDOUT" % sql]
    res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    if res.returncode != 0:
        raise SystemExit("ledger_check: psql failed (%d): %s\n%s"
                         % (res.returncode, sql, res.stderr.decode(errors="replace")))
    rows = []
    for line in res.stdout.decode("utf-8").split("\n"):
        if not line:
            continue
        cells = []
        for c in line.split("\t"):
            if c == "\\N":
                cells.append(None)
            else:
                # COPY text format escapes: the values here are plain text
                # apart from backslash sequences we never produce.
                cells.append(c.replace("\\\\", "\\"))
        rows.append(cells)
    return rows


def cmd_ledger(args):
    msgs = load_produced(args.produced)
    ends = {int(p): int(o) for p, o in load_json(args.end).items()}
    by_id = {}
    copies = defaultdict(list)
    for m in msgs:
        copies[m["id"]].append((m["p"], m["o"]))
        if m["id"] in by_id:
            prev = by_id[m["id"]]
            if any(prev[k] != m[k] for k in ("acc", "amt", "cur", "kind", "ts", "desc")):
                check(False, "produced file: %s has two different payloads" % m["id"])
        else:
            by_id[m["id"]] = m
    n, distinct = len(msgs), len(by_id)
    dups = n - distinct
    print("produced %d messages: %d distinct payments, %d exact duplicates" % (n, distinct, dups))

    rows = copy_out(args.dsn,
                    "SELECT payment_id, account_id, amount_cents, currency, kind,"
                    " round(extract(epoch FROM occurred_at) * 1000)::bigint, description,"
                    " kafka_topic, kafka_partition, kafka_offset FROM ledger_entries")
    booked = Counter(r[0] for r in rows)
    missing = [i for i in by_id if i not in booked]
    extra = [i for i in booked if i not in by_id]
    doubled = [i for i, c in booked.items() if c > 1]
    check(not missing, "every distinct payment is in ledger_entries (%d missing%s)"
          % (len(missing), ": " + ", ".join(sorted(missing)[:5]) if missing else ""))
    check(not extra, "no ledger row names an unknown payment (%d extra)" % len(extra))
    check(not doubled, "no payment booked twice (%d double-booked)" % len(doubled))
    check(len(rows) == distinct, "ledger rows %d == distinct payments %d" % (len(rows), distinct))
    wrong = []
    for r in rows:
        m = by_id.get(r[0])
        if not m:
            continue
        want = [m["acc"], str(m["amt"]), m["cur"], m["kind"], str(m["ts"]), m["desc"],
                args.topic]
        place = (int(r[8]), int(r[9]))
        if r[1:8] != want or place not in copies[r[0]]:
            wrong.append("%s: %s from %s" % (r[0], r[1:8], place))
    check(not wrong, "every ledger row has its event's fields and one of its messages' offsets"
          " (%d wrong%s)" % (len(wrong), ": " + "; ".join(wrong[:3]) if wrong else ""))

    sums, counts = defaultdict(int), Counter()
    currency = {}
    for m in by_id.values():
        sums[m["acc"]] += m["amt"]
        counts[m["acc"]] += 1
        currency[m["acc"]] = m["cur"]
    bal = copy_out(args.dsn, "SELECT account_id, currency, balance_cents, entries"
                             " FROM account_balances")
    bad = ["%s: %s %s/%s, expected %s %d/%d" % (a, c, b, e, currency.get(a), sums.get(a, 0),
                                                counts.get(a, 0))
           for a, c, b, e in bal
           if c != currency.get(a) or int(b) != sums.get(a) or int(e) != counts.get(a)]
    check(len(bal) == len(sums), "balances for %d accounts, expected %d" % (len(bal), len(sums)))
    check(not bad, "every balance equals the sum of its account's distinct payments (%d wrong%s)"
          % (len(bad), ": " + "; ".join(bad[:3]) if bad else ""))

    keys = copy_out(args.dsn, "SELECT convert_from(key, 'UTF8') FROM %s WHERE scope = '%s'"
                    % (args.dedup_table, args.group.replace("'", "''")))
    keyset = Counter(k[0] for k in keys)
    check(len(keys) == distinct and set(keyset) == set(by_id),
          "dedup marks of group %s: %d rows == distinct %d == produced %d - duplicates %d"
          % (args.group, len(keys), distinct, n, dups))

    if args.db_offsets:
        stored = {int(p): int(o) for t, p, o in copy_out(
            args.dsn, "SELECT topic, partition, next_offset FROM seam_offsets WHERE group_id ="
                      " '%s' AND topic = '%s'" % (args.group.replace("'", "''"),
                                                  args.topic.replace("'", "''")))}
        check(set(stored) == set(p for p, e in ends.items() if e > 0),
              "seam_offsets has a row for every partition with messages: %s"
              % json.dumps(stored, sort_keys=True))
        booked_at = {r[0]: (int(r[8]), int(r[9])) for r in rows}
        behind = []
        for m in msgs:
            if m["p"] in stored and m["o"] >= stored[m["p"]]:
                if booked_at.get(m["id"]) == (m["p"], m["o"]):
                    behind.append("%d/%d" % (m["p"], m["o"]))
        past = [p for p, o in stored.items() if o > ends.get(p, 0)]
        tail = sum(ends[p] - stored.get(p, 0) for p in ends)
        check(not past and not behind,
              "database offsets never pass the end, and the %d message(s) after them are all "
              "copies of payments booked from other messages (%d booked there)"
              % (tail, len(behind)))

    print("summary: %d messages, %d distinct, %d duplicates; ledger %d rows, %d missing, "
          "%d double-booked; %d accounts; dedup %d rows%s"
          % (n, distinct, dups, len(rows), len(missing), len(doubled), len(bal), len(keys),
             "; FAILED: %d check(s)" % len(FAILED) if FAILED else ""))


def cmd_records(args):
    msgs = load_produced(args.produced)
    at = {(m["p"], m["o"]): m for m in msgs}
    distinct = set(m["id"] for m in msgs)
    handled = defaultdict(list)  # id -> [(run, p, o)]
    bad = []
    per_run = []
    for run, spec in enumerate(args.run):
        path, _, committed_file = spec.partition(":")
        committed = None
        if committed_file:
            with open(committed_file) as f:
                committed = {int(p): int(o) for p, o in json.load(f).items()}
        ids = Counter()
        lines = 0
        with open(path) as f:
            for line in f:
                lines += 1
                parts = line.rstrip("\n").split(" ", 6)
                try:
                    p, o = int(parts[1]), int(parts[2])
                    rec = json.loads(parts[6])
                except (IndexError, ValueError) as e:
                    bad.append("%s: malformed line %r (%s)" % (path, line[:80], e))
                    continue
                m = at.get((p, o))
                if not m or rec.get("payment_id") != m["id"]:
                    bad.append("%s: %d/%d is not a produced message with payment %s"
                               % (path, p, o, rec.get("payment_id")))
                    continue
                ids[m["id"]] += 1
                handled[m["id"]].append((run, p, o))
        per_run.append((path, lines, ids, committed))
    check(not bad, "every record names a produced message and its payment_id (%d bad%s)"
          % (len(bad), ": " + "; ".join(bad[:3]) if bad else ""))
    missing = distinct - set(handled)
    check(not missing, "every distinct payment handled (%d of %d missing)"
          % (len(missing), len(distinct)))
    for path, lines, ids, _ in per_run:
        twice = [i for i, c in ids.items() if c > 1]
        check(not twice, "%s: %d records, no payment handled twice by one process (%d were%s)"
              % (os.path.basename(path), lines, len(twice),
                 ": " + ", ".join(twice[:5]) if twice else ""))
    again, unexplained = 0, []
    for pid, hs in handled.items():
        if len(hs) < 2:
            continue
        again += 1
        for (run, p, o), _later in zip(hs, hs[1:]):
            committed = per_run[run][3]
            if committed is None or committed.get(p, 0) > o:
                unexplained.append("%s: handled by run %d at %d/%d (committed %s) and again"
                                   % (pid, run + 1, p, o,
                                      None if committed is None else committed.get(p)))
    check(not unexplained,
          "%d payment(s) handled again, each only after a kill that fell between its "
          "handle() and the commit of its offset (%d unexplained%s)"
          % (again, len(unexplained), ": " + "; ".join(unexplained[:3]) if unexplained else ""))
    total = sum(lines for _, lines, _, _ in per_run)
    print("summary: %d messages, %d distinct, %d duplicates in the stream; %d records in %d "
          "runs; %d payment(s) handled twice (kill between handle and mark flush)%s"
          % (len(msgs), len(distinct), len(msgs) - len(distinct), total, len(per_run), again,
             "; FAILED: %d check(s)" % len(FAILED) if FAILED else ""))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("ledger")
    p.add_argument("--produced", required=True)
    p.add_argument("--dsn", required=True)
    p.add_argument("--group", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--end", required=True)
    p.add_argument("--dedup-table", default="seam_dedup")
    p.add_argument("--db-offsets", action="store_true")
    p.set_defaults(fn=cmd_ledger)
    p = sub.add_parser("records")
    p.add_argument("--produced", required=True)
    p.add_argument("--run", action="append", required=True)
    p.set_defaults(fn=cmd_records)
    args = ap.parse_args()
    args.fn(args)
    sys.exit(1 if FAILED else 0)


if __name__ == "__main__":
    main()
