#!/usr/bin/env python3
"""kt.py - Kafka side of the e2e tests, with kafka-python (a client that
shares no code with librdkafka, so it is an independent witness of what
seam did).

Subcommands (all take --bootstrap HOST:PORT; JSON goes to stdout, progress
and errors to stderr; exit 0 = success):

  create-topic  --topic T --partitions N [--config k=v ...]
                create T and wait until every partition has a leader
  produce       --topic T --count N [--start I] [--partition P]
                [--value-size B] [--out FILE]
                keys "k<i>" for i in [I, I+N); partition i % partitions
                (round robin) unless --partition; acks=all. --out writes
                "TOPIC PARTITION OFFSET KEY" per acknowledged message.
                Prints {"topic", "count", "end_offsets": {"P": end}}.
  end-offsets   --topic T      prints {"P": end offset}
  group-offsets --group G [--topic T]
                the group's committed offsets (KafkaAdminClient.
                list_consumer_group_offsets): {"T": {"P": offset}}, or just
                {"P": offset} with --topic. Partitions never committed are
                absent.
  wait-committed --group G --topic T [--timeout S]
                poll until the group's committed offset reaches the end
                offset on every partition of T; prints the final
                {"committed": {...}, "end_offsets": {...}}; exit 1 on
                timeout, 2 if the process --watch-pid PID exits first.
"""
import argparse
import json
import sys
import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import KafkaError


def log(msg):
    print("[kt] " + msg, file=sys.stderr, flush=True)


def admin_client(bootstrap):
    return KafkaAdminClient(bootstrap_servers=bootstrap, client_id="seam-e2e-kt",
                            request_timeout_ms=15000)


def partitions_of(bootstrap, topic, timeout_s=30.0):
    """Partition ids of `topic`, waiting for metadata with a deadline."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, client_id="seam-e2e-kt",
                             enable_auto_commit=False)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            parts = consumer.partitions_for_topic(topic)
            if parts:
                return sorted(parts)
            if time.monotonic() >= deadline:
                raise SystemExit("kt: topic %s has no partitions after %.0f s" % (topic, timeout_s))
            time.sleep(0.2)
    finally:
        consumer.close()


def end_offsets(bootstrap, topic):
    parts = partitions_of(bootstrap, topic)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, client_id="seam-e2e-kt",
                             enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in parts]
        ends = consumer.end_offsets(tps)
        return {str(tp.partition): off for tp, off in sorted(ends.items())}
    finally:
        consumer.close()


def group_offsets(bootstrap, group, timeout_s=30.0):
    """{topic: {partition (str): committed offset}} for `group`."""
    # The first FindCoordinator creates __consumer_offsets and answers
    # COORDINATOR_NOT_AVAILABLE until it has a leader: retry what the
    # protocol marks retriable, with a deadline.
    deadline = time.monotonic() + timeout_s
    admin = admin_client(bootstrap)
    try:
        while True:
            try:
                res = admin.list_consumer_group_offsets(group)
                break
            except KafkaError as e:
                if not getattr(e, "retriable", False) or time.monotonic() >= deadline:
                    raise
                time.sleep(0.2)
    finally:
        admin.close()
    out = {}
    for tp, om in res.items():
        if om.offset is None or om.offset < 0:
            continue  # listed without a commit
        out.setdefault(tp.topic, {})[str(tp.partition)] = om.offset
    for topic in out:
        out[topic] = dict(sorted(out[topic].items(), key=lambda kv: int(kv[0])))
    return out


def cmd_create_topic(args):
    configs = {}
    for kv in args.config or []:
        k, sep, v = kv.partition("=")
        if not sep:
            raise SystemExit("kt: --config expects key=value, got %r" % kv)
        configs[k] = v
    admin = admin_client(args.bootstrap)
    try:
        admin.create_topics([NewTopic(name=args.topic, num_partitions=args.partitions,
                                      replication_factor=1, topic_configs=configs)],
                            timeout_ms=15000)
        # CreateTopics returns before every partition has a leader; producing
        # at once could hit NOT_LEADER, so wait with a deadline.
        deadline = time.monotonic() + 30
        while True:
            ready = False
            try:
                (desc,) = admin.describe_topics([args.topic])
                parts = desc.get("partitions") or []
                ready = (desc.get("error_code", 0) == 0 and len(parts) == args.partitions
                         and all(p.get("error_code", 0) == 0 and p.get("leader", -1) >= 0
                                 for p in parts))
            except KafkaError as e:
                desc = {"error": str(e)}
            if ready:
                break
            if time.monotonic() >= deadline:
                raise SystemExit("kt: topic %s not ready after 30 s: %s" % (args.topic, desc))
            time.sleep(0.2)
    finally:
        admin.close()
    log("created topic %s with %d partitions" % (args.topic, args.partitions))
    print(json.dumps({"topic": args.topic, "partitions": args.partitions}))


def cmd_produce(args):
    parts = partitions_of(args.bootstrap, args.topic)
    if args.partition is not None and args.partition not in parts:
        raise SystemExit("kt: topic %s has no partition %d" % (args.topic, args.partition))
    producer = KafkaProducer(bootstrap_servers=args.bootstrap, client_id="seam-e2e-kt",
                             acks="all", linger_ms=5, batch_size=65536,
                             # one request in flight keeps the order per
                             # partition even when a request is retried
                             max_in_flight_requests_per_connection=1,
                             retries=5)
    pad = b"." * max(0, args.value_size)
    futures = []
    t0 = time.monotonic()
    for i in range(args.start, args.start + args.count):
        key = "k%d" % i
        part = args.partition if args.partition is not None else parts[i % len(parts)]
        value = ("v%d " % i).encode() + pad
        futures.append((key, producer.send(args.topic, key=key.encode(), value=value,
                                           partition=part)))
    producer.flush(timeout=120)
    acked = []
    for key, fut in futures:
        try:
            md = fut.get(timeout=60)
        except KafkaError as e:
            raise SystemExit("kt: produce of %s failed: %s" % (key, e))
        acked.append((md.partition, md.offset, key))
    producer.close()
    dt = time.monotonic() - t0
    if args.out:
        with open(args.out, "a") as f:
            for p, off, key in acked:
                f.write("%s %d %d %s\n" % (args.topic, p, off, key))
    ends = end_offsets(args.bootstrap, args.topic)
    log("produced %d messages to %s in %.1f s (%.0f msg/s)"
        % (len(acked), args.topic, dt, len(acked) / dt if dt > 0 else 0))
    print(json.dumps({"topic": args.topic, "count": len(acked), "end_offsets": ends}))


def cmd_end_offsets(args):
    print(json.dumps(end_offsets(args.bootstrap, args.topic)))


def cmd_group_offsets(args):
    res = group_offsets(args.bootstrap, args.group)
    print(json.dumps(res.get(args.topic, {}) if args.topic else res))


def pid_alive(pid):
    """True while `pid` runs; a zombie (exited, not yet reaped by its
    parent shell) counts as gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def cmd_wait_committed(args):
    ends = end_offsets(args.bootstrap, args.topic)
    deadline = time.monotonic() + args.timeout
    last_report = 0.0
    while True:
        if args.watch_pid and not pid_alive(args.watch_pid):
            log("process %d exited while waiting for group %s" % (args.watch_pid, args.group))
            sys.exit(2)
        committed = group_offsets(args.bootstrap, args.group).get(args.topic, {})
        done = all(committed.get(p, -1) >= end for p, end in ends.items())
        now = time.monotonic()
        if done or now >= deadline:
            print(json.dumps({"committed": committed, "end_offsets": ends}))
            if not done:
                log("timeout after %.0f s: committed %s, end offsets %s"
                    % (args.timeout, json.dumps(committed), json.dumps(ends)))
                sys.exit(1)
            return
        if now - last_report >= 5:
            log("waiting for group %s: committed %s of %s" % (args.group, json.dumps(committed),
                                                              json.dumps(ends)))
            last_report = now
        time.sleep(0.5)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bootstrap", required=True)
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("create-topic")
    p.add_argument("--topic", required=True)
    p.add_argument("--partitions", type=int, required=True)
    p.add_argument("--config", action="append")
    p.set_defaults(fn=cmd_create_topic)

    p = sub.add_parser("produce")
    p.add_argument("--topic", required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--start", type=int, default=0)
    p.add_argument("--partition", type=int)
    p.add_argument("--value-size", type=int, default=0)
    p.add_argument("--out")
    p.set_defaults(fn=cmd_produce)

    p = sub.add_parser("end-offsets")
    p.add_argument("--topic", required=True)
    p.set_defaults(fn=cmd_end_offsets)

    p = sub.add_parser("group-offsets")
    p.add_argument("--group", required=True)
    p.add_argument("--topic")
    p.set_defaults(fn=cmd_group_offsets)

    p = sub.add_parser("wait-committed")
    p.add_argument("--group", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--timeout", type=float, default=120)
    p.add_argument("--watch-pid", type=int, help="give up (exit 2) when this process exits")
    p.set_defaults(fn=cmd_wait_committed)

    args = ap.parse_args()
    args.fn(args)


if __name__ == "__main__":
    main()
