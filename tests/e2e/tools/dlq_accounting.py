#!/usr/bin/env python3
"""dlq_accounting.py - the mixed stream of the DLQ accounting e2e test and
its checker, with kafka-python and fastavro (no code shared with seam).

Subcommands (--bootstrap H:P first; JSON to stdout, progress to stderr):

  produce --topic T --partitions N --per-partition M --schemas DIR --out FILE
          --poison-key K --retry-offset R
        Writes M messages to each partition (one request in flight, so the
        j-th message of a partition gets offset j of a fresh topic) and one
        JSON line per acknowledged message to --out:
          {"p", "o", "ts", "key", "value", "headers", "kind", "expect"}
        key and value are base64 (null for none), headers [[name, base64]],
        "expect" {"class": null (handled) or the DLQ class,
                  "schema_id": the framed id or null, "replay": count}.
        Kinds: valid Avro (subject e2e.dlq-value, id 21 of DIR/manifest.yaml);
        framing (empty, null, 3 bytes, magic 1, text); schema (unknown id,
        an id of a subject the consumer does not accept); decode (truncated
        body, trailing byte, a string length far past the message); handler
        (valid, key K: the recorder says POISON); and offset R of every
        partition is valid with an ordinary key, for the recorder's
        retry_offset (class retries_exhausted). Some messages carry headers
        (binary and empty values, a repeated name, and seam.* ones that a
        dead-lettering must not copy - except seam.replay.count, whose count
        it carries on).

  check --topic T --dlq-topic D --produced FILE --records FILE --consumer C
        --group G --plugin NAME --plugin-version V --max-attempts N
        --since-ms MS [--dump FILE]
        Reads D from the beginning to its end offsets and checks:
        accounting - every produced (partition, offset) is handled (in the
        recorder file) or dead-lettered, never both, never twice, none
        missing, and with the expected class; headers (docs/dlq.md v1) -
        every mandatory seam.* header exactly once, seam.schema.id exactly
        when the framing parsed, original topic/partition/offset/timestamp,
        key and value bytes identical, the original non-seam headers kept
        in order, attempts per class, failure times ordered and within the
        run. --dump writes the DLQ records as JSON lines (for check-replay).

  check-replay --topic T --dump FILE --records FILE --from JSON --class C
        After `seam dlq replay --class C`: the messages of T past the end
        offsets --from ({"P": offset}, before the replay) are exactly the
        class-C DLQ records of --dump, once each, with the original key,
        value and non-seam headers and seam.replay.count = their count + 1,
        and the recorder handled each of them.
"""
import argparse
import base64
import io
import json
import os
import struct
import sys
import time
from collections import Counter, defaultdict

import fastavro
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError

DLQ_ID = 21      # e2e.dlq-value v1 in tests/e2e/schemas/manifest.yaml
OTHER_ID = 31    # e2e.other-value v1: registered, not accepted by the consumer
UNKNOWN_ID = 987654

MANDATORY = ["seam.dlq.version", "seam.original.topic", "seam.original.partition",
             "seam.original.offset", "seam.original.timestamp", "seam.consumer", "seam.group",
             "seam.plugin.name", "seam.plugin.version", "seam.error.class",
             "seam.error.message", "seam.attempts", "seam.failure.first", "seam.failure.last",
             "seam.replay.count"]
CLASSES = ["framing", "schema", "decode", "handler", "retries_exhausted"]


def log(msg):
    print("[dlq_accounting] " + msg, file=sys.stderr, flush=True)


def b64(b):
    return None if b is None else base64.b64encode(b).decode()


def unb64(s):
    return None if s is None else base64.b64decode(s)


def zigzag_long(n):
    """Avro's long encoding, written out here rather than taken from a
    library, for the hostile length."""
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while True:
        b = z & 0x7F
        z >>= 7
        if z:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def frame(sid, body):
    return b"\x00" + struct.pack(">I", sid) + body


# ------------------------------------------------------------------ produce

def cmd_produce(args):
    with open(os.path.join(args.schemas, "e2e.dlq-value", "v1.avsc")) as f:
        pay = fastavro.parse_schema(json.load(f))
    with open(os.path.join(args.schemas, "e2e.other-value", "v1.avsc")) as f:
        other = fastavro.parse_schema(json.load(f))

    def enc(schema, rec):
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, schema, rec)
        return buf.getvalue()

    def valid_body(seq):
        return enc(pay, {"id": "pay-%d" % seq, "amount": (seq * 7919) - 500000,
                         "memo": "m\u00e9mo %d" % seq})

    # The cycle of kinds; (p + j) % len staggers them across partitions.
    kinds = ["valid", "framing", "valid", "schema", "handler", "valid", "decode", "valid",
             "framing", "schema", "decode", "valid", "handler", "framing", "decode"]
    variant = Counter()
    producer = KafkaProducer(bootstrap_servers=args.bootstrap, client_id="seam-e2e-dlq",
                             acks="all", linger_ms=5, max_in_flight_requests_per_connection=1,
                             retries=5)
    t0 = int(time.time() * 1000) - 60000
    pending = []
    seq = 0
    for p in range(args.partitions):
        for j in range(args.per_partition):
            seq += 1
            kind = "retry" if j == args.retry_offset else kinds[(p + j) % len(kinds)]
            v = variant[kind]
            variant[kind] += 1
            key = ("k-%d-%d" % (p, j)).encode()
            headers = []
            expect = {"class": None, "schema_id": None, "replay": 0}
            body = valid_body(seq)
            if kind == "valid" or kind == "retry":
                value = frame(DLQ_ID, body)
                if kind == "retry":
                    expect.update({"class": "retries_exhausted", "schema_id": DLQ_ID})
                elif v % 4 == 3:
                    key = None  # the recorder writes "-"
            elif kind == "handler":
                key = args.poison_key.encode()
                value = frame(DLQ_ID, body)
                expect.update({"class": "handler", "schema_id": DLQ_ID})
            elif kind == "framing":
                value = [b"", None, b"\x00\x00\x01", b"\x01" + struct.pack(">I", DLQ_ID) + body,
                         b"plain text, not Confluent-framed Avro"][v % 5]
                expect["class"] = "framing"
                if v % 3 == 2 and value is not None:
                    key = None  # Kafka needs a key or a value
            elif kind == "schema":
                if v % 2:
                    value = frame(OTHER_ID, enc(other, {"x": seq}))
                    expect.update({"class": "schema", "schema_id": OTHER_ID})
                else:
                    value = frame(UNKNOWN_ID, body)
                    expect.update({"class": "schema", "schema_id": UNKNOWN_ID})
            elif kind == "decode":
                value = frame(DLQ_ID, [body[:len(body) // 2], body + b"\x00",
                                       zigzag_long(1000000000) + b"abc"][v % 3])
                expect.update({"class": "decode", "schema_id": DLQ_ID})
                if v % 2:
                    key = b"\xff\x00binary key"
            if seq % 3 == 0:
                headers = [("traceparent", b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
                           ("bin", bytes([0, 255, 1, 128])), ("empty", b""),
                           ("dup", b"first"), ("dup", b"second")]
                if seq % 2 == 0:
                    # An earlier dead-lettering's headers: not copied, but
                    # the replay count is carried on.
                    headers += [("seam.error.class", b"stale"), ("seam.replay.count", b"1")]
                    expect["replay"] = 1
            ts = t0 + seq
            fut = producer.send(args.topic, key=key, value=value, headers=headers,
                                partition=p, timestamp_ms=ts)
            pending.append(({"p": p, "j": j, "ts": ts, "key": b64(key), "value": b64(value),
                             "headers": [[n, b64(hv)] for n, hv in headers], "kind": kind,
                             "expect": expect}, fut))
    producer.flush(timeout=120)
    with open(args.out, "w") as out:
        for meta, fut in pending:
            try:
                md = fut.get(timeout=60)
            except KafkaError as e:
                raise SystemExit("dlq_accounting: send failed: %s" % e)
            if md.partition != meta["p"] or md.offset != meta["j"]:
                raise SystemExit("dlq_accounting: message %d of partition %d landed at %d/%d; "
                                 "the test needs a fresh topic" % (meta["j"], meta["p"],
                                                                   md.partition, md.offset))
            meta["o"] = md.offset
            del meta["j"]
            out.write(json.dumps(meta, sort_keys=True) + "\n")
    producer.close()
    by_class = Counter(m["expect"]["class"] or "handled" for m, _ in pending)
    log("produced %d messages to %s: %s" % (len(pending), args.topic, dict(sorted(by_class.items()))))
    print(json.dumps({"count": len(pending), "expected": dict(sorted(by_class.items()))}))


# ------------------------------------------------------------------- read

def read_all(bootstrap, topic, start=None):
    """Every record of `topic` from `start` ({partition: offset}, default
    the beginning) up to the end offsets found now."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, client_id="seam-e2e-dlq-read",
                             enable_auto_commit=False, group_id=None)
    try:
        deadline = time.monotonic() + 30
        parts = None
        while not parts:
            parts = consumer.partitions_for_topic(topic)
            if not parts:
                if time.monotonic() >= deadline:
                    raise SystemExit("dlq_accounting: topic %s has no partitions" % topic)
                time.sleep(0.2)
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        ends = consumer.end_offsets(tps)
        for tp in tps:
            consumer.seek(tp, (start or {}).get(tp.partition, 0))
        out = []
        deadline = time.monotonic() + 60
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            if time.monotonic() >= deadline:
                raise SystemExit("dlq_accounting: reading %s did not reach the end offsets %s"
                                 % (topic, {tp.partition: e for tp, e in ends.items()}))
            for tp, recs in consumer.poll(timeout_ms=500).items():
                for r in recs:
                    if r.offset < ends[tp]:
                        out.append(r)
        return out, {tp.partition: e for tp, e in ends.items()}
    finally:
        consumer.close()


def read_records(path):
    """Recorder lines -> Counter((partition, offset)), and the key per line."""
    counts = Counter()
    keys = {}
    with open(path) as f:
        for line in f:
            fields = line.rstrip("\n").split(" ", 6)
            counts[(int(fields[1]), int(fields[2]))] += 1
            keys[(int(fields[1]), int(fields[2]))] = (fields[3], fields[6] if len(fields) > 6 else None)
    return counts, keys


def load_produced(path):
    with open(path) as f:
        return {(m["p"], m["o"]): m for m in map(json.loads, f)}


# ------------------------------------------------------------------ check

def cmd_check(args):
    failures = []

    def fail(msg):
        failures.append(msg)
        print("[dlq-check] FAIL: %s" % msg, flush=True)

    def ok(msg):
        print("[dlq-check] ok: %s" % msg, flush=True)

    produced = load_produced(args.produced)
    handled, rec_keys = read_records(args.records)
    dlq, dlq_ends = read_all(args.bootstrap, args.dlq_topic)
    now_ms = int(time.time() * 1000)
    log("read %d DLQ records (end offsets %s), %d record lines"
        % (len(dlq), dlq_ends, sum(handled.values())))

    # Accounting.
    dead = defaultdict(list)
    header_problems = []
    dump = []
    for r in dlq:
        hdrs = r.headers or []
        seam_h = [(n, v) for n, v in hdrs if n.startswith("seam.")]
        names = Counter(n for n, _ in seam_h)
        hv = {n: (v.decode("utf-8", "replace") if v is not None else None) for n, v in seam_h}
        where = "DLQ %d/%d" % (r.partition, r.offset)
        probs = []
        for n in MANDATORY:
            if names[n] != 1:
                probs.append("%s appears %d times" % (n, names[n]))
        extra = sorted(set(names) - set(MANDATORY) - {"seam.schema.id"})
        if extra:
            probs.append("unknown seam headers %s" % extra)
        try:
            src = (int(hv["seam.original.partition"]), int(hv["seam.original.offset"]))
        except (KeyError, TypeError, ValueError):
            header_problems.append("%s: no usable original partition/offset: %s" % (where, hv))
            continue
        dead[src].append(r)
        m = produced.get(src)
        dump.append({"dlq_p": r.partition, "dlq_o": r.offset, "src": list(src),
                     "key": b64(r.key), "value": b64(r.value),
                     "headers": [[n, b64(v)] for n, v in hdrs]})
        if m is None:
            header_problems.append("%s: names %s, which was not produced" % (where, src))
            continue
        exp = m["expect"]
        cls = hv.get("seam.error.class")
        if hv.get("seam.dlq.version") != "1":
            probs.append("seam.dlq.version %r" % hv.get("seam.dlq.version"))
        if hv.get("seam.original.topic") != args.topic:
            probs.append("seam.original.topic %r" % hv.get("seam.original.topic"))
        if hv.get("seam.original.timestamp") != str(m["ts"]):
            probs.append("seam.original.timestamp %r, produced with %d"
                         % (hv.get("seam.original.timestamp"), m["ts"]))
        for n, want in (("seam.consumer", args.consumer), ("seam.group", args.group),
                        ("seam.plugin.name", args.plugin),
                        ("seam.plugin.version", args.plugin_version)):
            if hv.get(n) != want:
                probs.append("%s %r, expected %r" % (n, hv.get(n), want))
        if cls not in CLASSES:
            probs.append("seam.error.class %r is not one of %s" % (cls, CLASSES))
        msg = hv.get("seam.error.message") or ""
        if not msg or len(msg.encode()) > 1024:
            probs.append("seam.error.message empty or longer than 1024 bytes (%d)" % len(msg))
        want_att = {"framing": 0, "schema": 0, "decode": 0, "handler": 1,
                    "retries_exhausted": args.max_attempts}.get(cls)
        if hv.get("seam.attempts") != str(want_att):
            probs.append("seam.attempts %r for class %s, expected %s"
                         % (hv.get("seam.attempts"), cls, want_att))
        try:
            first, last = int(hv["seam.failure.first"]), int(hv["seam.failure.last"])
            if not (args.since_ms <= first <= last <= now_ms):
                probs.append("failure times first %d last %d not within the run [%d, %d]"
                             % (first, last, args.since_ms, now_ms))
        except (KeyError, TypeError, ValueError):
            probs.append("failure times not numbers")
        sid = hv.get("seam.schema.id")
        want_sid = exp["schema_id"]
        if want_sid is None and sid is not None:
            probs.append("seam.schema.id %r on a message whose framing did not parse" % sid)
        if want_sid is not None and sid != str(want_sid):
            probs.append("seam.schema.id %r, framed with %d" % (sid, want_sid))
        if hv.get("seam.replay.count") != str(exp["replay"]):
            probs.append("seam.replay.count %r, expected %d" % (hv.get("seam.replay.count"),
                                                               exp["replay"]))
        if r.key != unb64(m["key"]):
            probs.append("key %r, produced %r" % (r.key, unb64(m["key"])))
        if r.value != unb64(m["value"]):
            probs.append("value %r, produced %r" % ((r.value or b"")[:40],
                                                    (unb64(m["value"]) or b"")[:40]))
        orig = [(n, unb64(v)) for n, v in m["headers"] if not n.startswith("seam.")]
        kept = [(n, v) for n, v in hdrs if not n.startswith("seam.")]
        if kept != orig:
            probs.append("non-seam headers %r, produced %r" % (kept, orig))
        if probs:
            header_problems.append("%s (source %d/%d, %s): %s"
                                   % (where, src[0], src[1], m["kind"], "; ".join(probs)))

    if header_problems:
        fail("%d DLQ records break the header contract (docs/dlq.md), e.g. %s"
             % (len(header_problems), " || ".join(header_problems[:6])))
    else:
        ok("%d DLQ records: every mandatory seam.* header once, provenance, key, value and "
           "original headers identical, attempts and schema id as expected" % len(dlq))

    missing, both, twice_dlq, twice_rec, wrong_class, wrongly_handled = [], [], [], [], [], []
    for k, m in sorted(produced.items()):
        n_dead, n_rec = len(dead.get(k, [])), handled.get(k, 0)
        exp = m["expect"]["class"]
        if n_dead and n_rec:
            both.append(k)
        elif not n_dead and not n_rec:
            missing.append(k)
        if n_dead > 1:
            twice_dlq.append(k)
        if n_rec > 1:
            twice_rec.append(k)
        if exp is None and n_dead:
            wrongly_handled.append("%s (%s) dead-lettered as %s" % (k, m["kind"], [
                (r.headers and dict((n, v) for n, v in r.headers).get("seam.error.class"))
                for r in dead[k]]))
        if exp is not None:
            if n_rec:
                wrong_class.append("%s (%s) handled, expected DLQ class %s" % (k, m["kind"], exp))
            for r in dead.get(k, []):
                got = dict((n, v) for n, v in (r.headers or [])).get("seam.error.class")
                got = got.decode() if got is not None else None
                if got != exp:
                    wrong_class.append("%s (%s) class %s, expected %s" % (k, m["kind"], got, exp))
    foreign = sorted(k for k in set(dead) | set(handled) if k not in produced)
    checks = [
        (missing, "produced messages neither handled nor dead-lettered"),
        (both, "messages both handled and dead-lettered"),
        (twice_dlq, "messages dead-lettered more than once"),
        (twice_rec, "messages handled more than once"),
        (wrongly_handled, "valid messages dead-lettered"),
        (wrong_class, "poison messages with the wrong outcome or class"),
        (foreign, "outcomes for offsets that were not produced"),
    ]
    for items, what in checks:
        if items:
            fail("%d %s, e.g. %s" % (len(items), what, items[:6]))
    if not any(items for items, _ in checks):
        per = Counter(m["expect"]["class"] or "handled" for m in produced.values())
        ok("accounting: all %d produced offsets accounted for exactly once: %s"
           % (len(produced), json.dumps(dict(sorted(per.items())))))
    # Handled records carry the decoded record of the message.
    bad_vals = []
    for k, (key, js) in rec_keys.items():
        m = produced.get(k)
        if m is None or m["expect"]["class"] is not None:
            continue
        want_key = unb64(m["key"])
        if key != (want_key.decode() if want_key else "-"):
            bad_vals.append("%s key %s" % (k, key))
            continue
        try:
            rec = json.loads(js)
        except (TypeError, ValueError):
            bad_vals.append("%s value %r" % (k, js))
            continue
        if not isinstance(rec, dict) or set(rec) != {"id", "amount", "memo"}:
            bad_vals.append("%s value %r" % (k, js))
    if bad_vals:
        fail("%d handled records with a wrong key or decoded value, e.g. %s"
             % (len(bad_vals), bad_vals[:5]))
    else:
        ok("handled records carry the message's key and its decoded record")
    if args.dump:
        with open(args.dump, "w") as f:
            for d in dump:
                f.write(json.dumps(d, sort_keys=True) + "\n")
    sys.exit(1 if failures else 0)


# ----------------------------------------------------------- check-replay

def cmd_check_replay(args):
    failures = []

    def fail(msg):
        failures.append(msg)
        print("[replay-check] FAIL: %s" % msg, flush=True)

    def ok(msg):
        print("[replay-check] ok: %s" % msg, flush=True)

    start = {int(p): o for p, o in json.loads(args.from_offsets).items()}
    replayed, _ = read_all(args.bootstrap, args.topic, start)
    with open(args.dump) as f:
        dump = [json.loads(line) for line in f]
    wanted = []
    for d in dump:
        h = dict((n, unb64(v)) for n, v in d["headers"])
        if h.get("seam.error.class") == args.cls.encode():
            wanted.append(d)
    handled, _ = read_records(args.records)
    unmatched = list(wanted)
    problems = []
    for r in replayed:
        hdrs = r.headers or []
        non_seam = [(n, v) for n, v in hdrs if not n.startswith("seam.")]
        count = [v for n, v in hdrs if n == "seam.replay.count"]
        match = None
        for d in unmatched:
            orig = [(n, unb64(v)) for n, v in d["headers"] if not n.startswith("seam.")]
            if unb64(d["key"]) == r.key and unb64(d["value"]) == r.value and orig == non_seam:
                match = d
                break
        if match is None:
            problems.append("%d/%d (key %r) matches no %s DLQ record" % (r.partition, r.offset,
                                                                        r.key, args.cls))
            continue
        unmatched.remove(match)
        h = dict((n, unb64(v)) for n, v in match["headers"])
        want = str(int(h.get("seam.replay.count", b"0")) + 1).encode()
        if count != [want]:
            problems.append("%d/%d: seam.replay.count headers %r, expected [%r]"
                            % (r.partition, r.offset, count, want))
        if handled.get((r.partition, r.offset), 0) != 1:
            problems.append("%d/%d: handled %d times by the recorder, expected once"
                            % (r.partition, r.offset, handled.get((r.partition, r.offset), 0)))
    if problems:
        fail("%d replayed messages wrong, e.g. %s" % (len(problems), problems[:5]))
    if unmatched:
        fail("%d %s DLQ records were not replayed, e.g. DLQ %s"
             % (len(unmatched), args.cls, [(d["dlq_p"], d["dlq_o"]) for d in unmatched[:5]]))
    if not problems and not unmatched:
        ok("%d %s DLQ records replayed once each to %s with their key, value and headers, "
           "seam.replay.count incremented, each handled once" % (len(wanted), args.cls, args.topic))
    sys.exit(1 if failures else 0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bootstrap", required=True)
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("produce")
    p.add_argument("--topic", required=True)
    p.add_argument("--partitions", type=int, required=True)
    p.add_argument("--per-partition", type=int, required=True)
    p.add_argument("--schemas", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--poison-key", required=True)
    p.add_argument("--retry-offset", type=int, required=True)
    p.set_defaults(fn=cmd_produce)

    p = sub.add_parser("check")
    p.add_argument("--topic", required=True)
    p.add_argument("--dlq-topic", required=True)
    p.add_argument("--produced", required=True)
    p.add_argument("--records", required=True)
    p.add_argument("--consumer", required=True)
    p.add_argument("--group", required=True)
    p.add_argument("--plugin", required=True)
    p.add_argument("--plugin-version", required=True)
    p.add_argument("--max-attempts", type=int, required=True)
    p.add_argument("--since-ms", type=int, required=True)
    p.add_argument("--dump")
    p.set_defaults(fn=cmd_check)

    p = sub.add_parser("check-replay")
    p.add_argument("--topic", required=True)
    p.add_argument("--dump", required=True)
    p.add_argument("--records", required=True)
    p.add_argument("--from", dest="from_offsets", required=True)
    p.add_argument("--class", dest="cls", required=True)
    p.set_defaults(fn=cmd_check_replay)

    args = ap.parse_args()
    args.fn(args)


if __name__ == "__main__":
    main()
