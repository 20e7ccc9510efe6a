#!/usr/bin/env python3
"""payments_produce.py - the independent producer of the ledger chaos test:
payment events (schemas/payments.payment-value v1) encoded with fastavro,
framed here (magic byte 0, 4-byte big-endian schema id from the local
registry's manifest.yaml, body) and sent with kafka-python. Nothing here
shares code with seam, Avro C or librdkafka.

  payments_produce.py --bootstrap H:P --topic T --schemas DIR --count N
                      --out FILE [--dup-ratio R] [--accounts A]
                      [--seconds S] [--seed X] [--id-prefix P]

N messages in all, of which round(N * R) are exact business duplicates: the
same bytes (same payment_id and payload) as an earlier event, sent again at
a later offset, on the event's own partition or (40 %) on another one, a
few to a few thousand messages later. Events are keyed by account and go to
the account's home partition. Amounts are signed and never 0 (CAPTURE
positive, REFUND negative); each account keeps one currency; a quarter of
the events have no description, the others a non-ASCII one.

--seconds S paces the sends evenly over S seconds (so consumers are killed
while the stream is still arriving); acks=all with one request in flight,
so offsets follow the send order per partition.

Each acknowledged message is one JSON line in --out:
  {"p", "o", "id", "acc", "amt", "cur", "kind", "ts", "desc", "dup"}
A summary goes to stdout: {"count", "distinct", "duplicates",
"cross_partition_duplicates", "seconds", "end_offsets"}.
"""
import argparse
import io
import json
import os
import random
import re
import struct
import sys
import time

import fastavro
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError

SUBJECT = "payments.payment-value"
CURRENCIES = ["EUR", "USD", "GBP", "CHF", "JPY"]


def log(msg):
    print("[payments_produce] " + msg, file=sys.stderr, flush=True)


def schema_id(schemas_dir):
    """The id manifest.yaml gives payments.payment-value v1 (a regex: the
    venv has no YAML parser, and the line format is fixed by the rules)."""
    with open(os.path.join(schemas_dir, "manifest.yaml")) as f:
        for line in f:
            m = re.search(r"subject:\s*%s\s*,\s*version:\s*1\s*,\s*id:\s*(\d+)"
                          % re.escape(SUBJECT), line)
            if m:
                return int(m.group(1))
    raise SystemExit("payments_produce: no %s v1 in %s/manifest.yaml" % (SUBJECT, schemas_dir))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--schemas", required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--dup-ratio", type=float, default=0.05)
    ap.add_argument("--accounts", type=int, default=500)
    ap.add_argument("--seconds", type=float, default=0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--id-prefix", default="pay")
    args = ap.parse_args()

    sid = schema_id(args.schemas)
    with open(os.path.join(args.schemas, SUBJECT, "v1.avsc")) as f:
        schema = fastavro.parse_schema(json.load(f))
    rnd = random.Random(args.seed)

    producer = KafkaProducer(bootstrap_servers=args.bootstrap, client_id="seam-e2e-payments",
                             acks="all", linger_ms=5, batch_size=65536,
                             max_in_flight_requests_per_connection=1, retries=5)
    deadline = time.monotonic() + 30
    parts = None
    while not parts:
        parts = sorted(producer.partitions_for(args.topic) or [])
        if not parts and time.monotonic() >= deadline:
            raise SystemExit("payments_produce: topic %s has no partitions" % args.topic)
    n_dups = int(round(args.count * args.dup_ratio))
    # Duplicates never come first: there must be something to repeat.
    dup_at = set(rnd.sample(range(1, args.count), n_dups)) if n_dups else set()

    events = []  # distinct events: (record, framed bytes, home partition)
    sent = []    # (future, record, partition, is_dup)
    cross = 0
    t0 = time.monotonic()
    base_ts = 1763800000000
    for i in range(args.count):
        if i in dup_at:
            # Mostly recent events (redelivery-like), sometimes old ones.
            back = int(rnd.expovariate(1 / 300.0))
            rec, value, home = events[max(0, len(events) - 1 - back)]
            if rnd.random() < 0.4 and len(parts) > 1:
                p = rnd.choice([q for q in parts if q != home])
                cross += 1
            else:
                p = home
            dup = True
        else:
            k = len(events)
            acc = rnd.randrange(args.accounts)
            amount = rnd.randint(-20000, 50000) or 1
            rec = {
                "payment_id": "%s-%07d" % (args.id_prefix, k),
                "account_id": "acc-%04d" % acc,
                "amount_cents": amount,
                "currency": CURRENCIES[acc % len(CURRENCIES)],
                "occurred_at": base_ts + k,
                "kind": "CAPTURE" if amount > 0 else "REFUND",
                "description": None if rnd.random() < 0.25 else "Zahlung %d – café" % k,
            }
            buf = io.BytesIO()
            buf.write(struct.pack(">bI", 0, sid))
            fastavro.schemaless_writer(buf, schema, rec)
            value = buf.getvalue()
            home = parts[acc % len(parts)]
            events.append((rec, value, home))
            p = home
            dup = False
        fut = producer.send(args.topic, key=rec["account_id"].encode(), value=value, partition=p)
        sent.append((fut, rec, p, dup))
        if args.seconds > 0 and i % 50 == 49:
            ahead = t0 + (i + 1) * args.seconds / args.count - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
    producer.flush(timeout=300)
    with open(args.out, "w") as out:
        for fut, rec, p, dup in sent:
            try:
                md = fut.get(timeout=60)
            except KafkaError as e:
                raise SystemExit("payments_produce: %s failed: %s" % (rec["payment_id"], e))
            if md.partition != p:
                raise SystemExit("payments_produce: %s went to partition %d, not %d"
                                 % (rec["payment_id"], md.partition, p))
            out.write(json.dumps({"p": md.partition, "o": md.offset, "id": rec["payment_id"],
                                  "acc": rec["account_id"], "amt": rec["amount_cents"],
                                  "cur": rec["currency"], "kind": rec["kind"],
                                  "ts": rec["occurred_at"], "desc": rec["description"],
                                  "dup": dup}, ensure_ascii=False) + "\n")
    producer.close()
    dt = time.monotonic() - t0
    c = KafkaConsumer(bootstrap_servers=args.bootstrap, client_id="seam-e2e-payments")
    try:
        ends = c.end_offsets([TopicPartition(args.topic, q) for q in parts])
        consumer_ends = {str(tp.partition): off for tp, off in sorted(ends.items())}
    finally:
        c.close()
    log("sent %d messages (%d distinct payments, %d duplicates, %d of them on another "
        "partition) in %.1f s" % (len(sent), len(events), n_dups, cross, dt))
    print(json.dumps({"count": len(sent), "distinct": len(events), "duplicates": n_dups,
                      "cross_partition_duplicates": cross, "seconds": round(dt, 1),
                      "end_offsets": consumer_ends}))


if __name__ == "__main__":
    main()
