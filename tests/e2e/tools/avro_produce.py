#!/usr/bin/env python3
"""avro_produce.py - an Avro encoder independent of seam: schemas are
registered over the Confluent-compatible REST API (urllib), records are
encoded with fastavro's schemaless_writer and framed by this script (magic
byte 0, 4-byte big-endian schema id, body), and sent with kafka-python.
Nothing here shares code with seam, Avro C or librdkafka.

Subcommands (JSON to stdout, progress and errors to stderr, exit 0 = ok):

  register --registry URL --subject S --schema LABEL=FILE [...] --ids FILE
        POST URL/subjects/S/versions for each file, in the order given, and
        merge {LABEL: {"id", "schema"}} into the ids file. A LABEL already in
        the file with another id is an error (exit 3) naming both ids: that
        is how a restarted in-memory registry is checked to hand out the
        same ids again.

  produce --bootstrap H:P --topic T --ids FILE --reader FILE --plan SPEC
          --out FILE [--start SEQ] [--rate N] [--until-file F]
        SPEC is "PARTITION:LABEL:COUNT,..." produced in that order (acks=all,
        one request in flight, so offsets follow the plan per partition).
        Message i (sequence SEQ+i) has key "e<seq>" and a record made from
        the sequence number (see make_record). Each acknowledged message is
        appended to --out as one JSON line:
          {"p", "o", "key", "seq", "label", "schema_id", "written",
           "expected"}
        where "expected" is the record resolved into the reader schema by
        fastavro (schemaless_reader with writer and reader schema).
        --rate N paces the sends to N per second and waits for each ack;
        --until-file F repeats the plan until F exists (then finishes the
        message in flight and stops).
"""
import argparse
import io
import json
import os
import struct
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import fastavro
from kafka import KafkaProducer
from kafka.errors import KafkaError


def log(msg):
    print("[avro_produce] " + msg, file=sys.stderr, flush=True)


CHANNELS = ["app", "store", "web", "phone"]


def make_record(seq, label):
    """The record of sequence number `seq` written with writer `label`
    (v1..v4 of tests/e2e/schemas/e2e.evo-value). Values cover the int32
    range (zigzag lengths 1..5 bytes), negative numbers, non-ASCII text and
    floats that are not exact in binary."""
    qty = ((seq * 2654435761) % 4294967296) - 2147483648
    price = seq / 10.0 + 0.1
    rec = {"id": "r%d" % seq, "qty": qty, "price": price}
    if label in ("v1", "v2"):
        rec["note"] = "n\u00f6te-%d-\u2713" % seq
    if label in ("v2", "v3", "v4"):
        rec["channel"] = CHANNELS[seq % len(CHANNELS)]
    if label in ("v3", "v4"):
        rec["priority"] = seq % 10
    if label == "v4":
        rec["coupon"] = None if seq % 2 else "c%d" % seq
    return rec


def registry_post(url, body, timeout=10.0):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/vnd.schemaregistry.v1+json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        raise SystemExit("avro_produce: POST %s: HTTP %d: %s" % (url, e.code, e.read()[:500]))
    except (urllib.error.URLError, OSError) as e:
        raise SystemExit("avro_produce: POST %s: %s" % (url, e))


def load_ids(path):
    if path and os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    return {}


def cmd_register(args):
    ids = load_ids(args.ids)
    got = {}
    for spec in args.schema:
        label, sep, path = spec.partition("=")
        if not sep:
            raise SystemExit("avro_produce: --schema expects LABEL=FILE, got %r" % spec)
        with open(path) as f:
            text = f.read()
        fastavro.parse_schema(json.loads(text))  # refuse a broken file here, not in seam
        url = "%s/subjects/%s/versions" % (args.registry.rstrip("/"),
                                           urllib.parse.quote(args.subject, safe=""))
        sid = registry_post(url, {"schema": text}).get("id")
        if not isinstance(sid, int):
            raise SystemExit("avro_produce: the registry answered no integer id for %s" % label)
        old = ids.get(label)
        if old is not None and old["id"] != sid:
            raise SystemExit("avro_produce: id mismatch for %s %s: it was id %d before, the "
                             "registry now answers id %d" % (args.subject, label, old["id"], sid))
        ids[label] = {"id": sid, "schema": os.path.abspath(path), "subject": args.subject}
        got[label] = sid
        log("%s %s (%s): id %d" % (args.subject, label, path, sid))
    with open(args.ids + ".tmp", "w") as f:
        json.dump(ids, f, indent=1, sort_keys=True)
    os.replace(args.ids + ".tmp", args.ids)
    print(json.dumps(got, sort_keys=True))


def parse_plan(spec, known):
    plan = []
    for part in spec.split(","):
        fields = part.split(":")
        if len(fields) != 3:
            raise SystemExit("avro_produce: plan item %r is not PARTITION:LABEL:COUNT" % part)
        p, label, n = int(fields[0]), fields[1], int(fields[2])
        if label not in known:
            raise SystemExit("avro_produce: plan label %s is not in the ids file (%s)"
                             % (label, sorted(known)))
        plan.append((p, label, n))
    return plan


def cmd_produce(args):
    ids = load_ids(args.ids)
    with open(args.reader) as f:
        reader = fastavro.parse_schema(json.load(f))
    writers = {}
    for label, e in ids.items():
        with open(e["schema"]) as f:
            writers[label] = fastavro.parse_schema(json.load(f))
    plan = parse_plan(args.plan, writers)
    producer = KafkaProducer(bootstrap_servers=args.bootstrap, client_id="seam-e2e-avro",
                             acks="all", linger_ms=2, max_in_flight_requests_per_connection=1,
                             retries=5)
    out = open(args.out, "a")
    pending = []
    seq = args.start
    sent = 0
    t0 = time.monotonic()

    def settle():
        for meta, fut in pending:
            try:
                md = fut.get(timeout=60)
            except KafkaError as e:
                raise SystemExit("avro_produce: send of %s failed: %s" % (meta["key"], e))
            if md.partition != meta["p"]:
                raise SystemExit("avro_produce: %s landed on partition %d, not %d"
                                 % (meta["key"], md.partition, meta["p"]))
            meta["o"] = md.offset
            out.write(json.dumps(meta, sort_keys=True) + "\n")
        out.flush()
        pending.clear()

    def one(p, label):
        nonlocal seq, sent
        rec = make_record(seq, label)
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, writers[label], rec)
        body = buf.getvalue()
        sid = ids[label]["id"]
        expected = fastavro.schemaless_reader(io.BytesIO(body), writers[label], reader)
        meta = {"p": p, "key": "e%d" % seq, "seq": seq, "label": label, "schema_id": sid,
                "written": rec, "expected": expected}
        fut = producer.send(args.topic, key=meta["key"].encode(),
                            value=b"\x00" + struct.pack(">I", sid) + body, partition=p)
        pending.append((meta, fut))
        seq += 1
        sent += 1
        if args.rate:
            producer.flush(timeout=60)
            settle()
            time.sleep(1.0 / args.rate)

    stop = False
    while not stop:
        for p, label, n in plan:
            for _ in range(n):
                one(p, label)
                if args.until_file and os.path.exists(args.until_file):
                    stop = True
                    break
            if stop:
                break
        if not args.until_file:
            stop = True
    producer.flush(timeout=120)
    settle()
    producer.close()
    dt = time.monotonic() - t0
    log("produced %d messages to %s in %.1f s" % (sent, args.topic, dt))
    print(json.dumps({"topic": args.topic, "count": sent, "next_seq": seq}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("register")
    p.add_argument("--registry", required=True)
    p.add_argument("--subject", required=True)
    p.add_argument("--schema", action="append", required=True)
    p.add_argument("--ids", required=True)
    p.set_defaults(fn=cmd_register)

    p = sub.add_parser("produce")
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--ids", required=True)
    p.add_argument("--reader", required=True)
    p.add_argument("--plan", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--start", type=int, default=0)
    p.add_argument("--rate", type=float, default=0)
    p.add_argument("--until-file")
    p.set_defaults(fn=cmd_produce)

    args = ap.parse_args()
    args.fn(args)


if __name__ == "__main__":
    main()
