#!/usr/bin/python3
"""Colony vs Mosquitto: run the colony_loadgen scenarios against both brokers.

Every run gets a freshly started broker on a free loopback port. The brokers
alternate (round 1: Colony then Mosquitto, round 2: Mosquitto then Colony, ...)
so that slow drifts of the machine hit both alike. The same load generator
drives both. The result is a Markdown table of medians per scenario with the
ratio Colony/Mosquitto, plus every raw JSON line in a .jsonl file.

Standard library only; run with /usr/bin/python3. Only the processes this
script started are ever signalled, and they are always cleaned up.

Example:
  bench/compare.py --colony build/server/colony --loadgen build/bench/colony_loadgen \\
      --rounds 3 --duration 10
"""

import argparse
import datetime
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

# Scenario id -> colony_loadgen arguments.
SCENARIOS = {
    "fanin-q0": ["--scenario", "fanin", "--qos", "0"],
    "fanin-q1": ["--scenario", "fanin", "--qos", "1"],
    "fanout100-q0": ["--scenario", "fanout", "--subscribers", "100", "--qos", "0"],
    "fanout100-q1": ["--scenario", "fanout", "--subscribers", "100", "--qos", "1"],
    "fanout1000-q0": ["--scenario", "fanout", "--subscribers", "1000", "--qos", "0"],
    "fanout1000-q1": ["--scenario", "fanout", "--subscribers", "1000", "--qos", "1"],
    "pairs-q0": ["--scenario", "pairs", "--qos", "0"],
    "pairs-q1": ["--scenario", "pairs", "--qos", "1"],
    "conn10k": ["--scenario", "conn", "--connections", "10000"],
}

# colony-sync / colony-async: Colony with --persistence sync|async and a fresh --data-dir.
BROKERS = ("colony", "mosquitto", "colony-sync", "colony-async")
LABEL = {"colony": "Colony", "mosquitto": "Mosquitto", "colony-sync": "Colony sync",
         "colony-async": "Colony async"}


def log(msg):
    print(f"[compare] {msg}", file=sys.stderr, flush=True)


def raise_nofile():
    """preexec_fn: lift the soft RLIMIT_NOFILE to the hard limit (10k connections)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path, n=15):
    try:
        with open(path, "r", errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


class Broker:
    """One broker process started by this script (and only that one is stopped)."""

    def __init__(self, kind, args, workdir, run_name):
        self.kind = kind
        self.args = args
        self.workdir = workdir
        self.run_name = run_name
        self.port = free_port()
        self.log_path = os.path.join(workdir, f"{run_name}.{kind}.log")
        self.proc = None

    def command(self):
        if self.kind.startswith("colony"):
            cmd = [self.args.colony, "--host", "127.0.0.1", "--port", str(self.port),
                   "--ws-port", "-1", "--http-port", "-1", "--log-level", "warn",
                   "--max-queued-messages", str(self.args.max_queued),
                   "--max-inflight", str(self.args.max_inflight)]
            if self.kind != "colony":
                cmd += ["--persistence", self.kind.split("-", 1)[1],
                        "--data-dir", os.path.join(self.workdir, f"{self.run_name}.data")]
            return cmd
        conf = os.path.join(self.workdir, f"{self.run_name}.mosquitto.conf")
        with open(conf, "w") as f:
            f.write("\n".join([
                f"listener {self.port} 127.0.0.1",
                "allow_anonymous true",
                "persistence false",
                f"max_queued_messages {self.args.mosquitto_max_queued}",
                "max_queued_bytes 0",
                f"max_inflight_messages {self.args.max_inflight}",
                "max_connections -1",
                f"set_tcp_nodelay {'true' if self.args.mosquitto_nodelay else 'false'}",
                "log_dest stderr",
                "log_type error",
                "log_type warning",
                "log_type notice",  # "Outgoing messages are being dropped" is a notice
                "connection_messages false",
                "",
            ]))
        return [self.args.mosquitto, "-c", conf]

    def start(self):
        cmd = self.command()
        with open(self.log_path, "wb") as logf:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logf,
                                         stderr=subprocess.STDOUT, preexec_fn=raise_nofile,
                                         cwd=self.workdir)
        deadline = time.monotonic() + self.args.broker_start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} exited with code {self.proc.returncode} at start:\n"
                                   f"{' '.join(cmd)}\n{tail(self.log_path)}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return  # accepting connections
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"{self.kind} did not listen on 127.0.0.1:{self.port} within "
                           f"{self.args.broker_start_timeout} s:\n{tail(self.log_path)}")

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)


def run_one(args, scenario, kind, rnd, workdir):
    """Start a fresh broker, run one scenario against it, return the result dict."""
    run_name = f"r{rnd}-{scenario}"
    broker = Broker(kind, args, workdir, run_name)
    # The 1-minute load average at the start: other work on the machine
    # (a parallel build) skews results, tail latency first.
    result = {"scenario_id": scenario, "broker": kind, "round": rnd,
              "loadavg_1m": round(os.getloadavg()[0], 2)}
    try:
        broker.start()
        cmd = [args.loadgen, *SCENARIOS[scenario], "--host", "127.0.0.1", "--port", str(broker.port),
               "--duration", str(args.duration), "--warmup", str(args.warmup),
               "--hold", str(args.hold), "--label", kind, "--broker-pid", str(broker.proc.pid),
               *args.loadgen_arg]
        timeout = args.duration + args.warmup + args.hold + 5 + 60 + 60
        lg = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                            timeout=timeout, preexec_fn=raise_nofile)
        lines = [l for l in lg.stdout.splitlines() if l.startswith("{")]
        if lines:
            result.update(json.loads(lines[-1]))
        if lg.returncode != 0:
            result.setdefault("error", f"colony_loadgen exited with {lg.returncode}: "
                                       f"{lg.stderr.strip()[-500:]}")
        if broker.proc.poll() is not None:
            result.setdefault("error", f"{kind} died during the run (code {broker.proc.returncode}):"
                                       f" {tail(broker.log_path, 5)}")
    except subprocess.TimeoutExpired:
        result["error"] = "colony_loadgen timed out"
    except (RuntimeError, OSError, ValueError) as e:
        result["error"] = str(e)
    finally:
        broker.stop()
    if kind == "mosquitto" and "being dropped" in tail(broker.log_path, 200):
        result["broker_note"] = "mosquitto logged: Outgoing messages are being dropped"
    return result


# ---- summary ------------------------------------------------------------------------

def median(results, key):
    vals = [r[key] for r in results if isinstance(r.get(key), (int, float))]
    return statistics.median(vals) if vals else None


def worst(results, key):
    vals = [r[key] for r in results if isinstance(r.get(key), (int, float))]
    return max(vals) if vals else None


def fmt(v, digits=0):
    if v is None:
        return "–"
    if isinstance(v, float) and digits == 0 and abs(v) < 100:
        digits = 2 if abs(v) < 10 else 1
    return f"{v:,.{digits}f}"


def ratio(c, m):
    if c is None or m is None or m == 0:
        return "–"
    return f"{c / m:.2f}"


def summarize(args, results):
    by = {}
    for r in results:
        by.setdefault((r["scenario_id"], r["broker"]), []).append(r)

    def ok(s, b):
        return [r for r in by.get((s, b), []) if "error" not in r]

    out = []
    traffic = [s for s in args.scenarios if not s.startswith("conn")]
    conn = [s for s in args.scenarios if s.startswith("conn")]
    # The first two brokers named are compared (Colony and Mosquitto unless --brokers says).
    first = args.brokers[0]
    second = args.brokers[1] if len(args.brokers) > 1 else args.brokers[0]
    c, m = LABEL[first], LABEL[second]
    if traffic:
        out.append(f"Medians of {args.rounds} round(s), {args.duration} s each. Ratio = {c}/{m}. "
                   "msgs/s = deliveries received per second. Lost = worst round.")
        out.append("")
        out.append(f"| scenario | msgs/s {c} | msgs/s {m} | ratio msgs/s (higher is better) "
                   f"| p50 µs {c} | p50 µs {m} | ratio p50 (lower is better) "
                   f"| p99 µs {c} | p99 µs {m} | ratio p99 (lower is better) "
                   f"| lost {c} | lost {m} | runs ok {c}/{m} |")
        out.append("|" + "---|" * 13)
        for s in traffic:
            rc, rm = ok(s, first), ok(s, second)
            vals = {k: (median(rc, k), median(rm, k)) for k in ("msgs_per_s", "lat_p50_us", "lat_p99_us")}
            out.append("| " + " | ".join([
                s,
                fmt(vals["msgs_per_s"][0]), fmt(vals["msgs_per_s"][1]), ratio(*vals["msgs_per_s"]),
                fmt(vals["lat_p50_us"][0]), fmt(vals["lat_p50_us"][1]), ratio(*vals["lat_p50_us"]),
                fmt(vals["lat_p99_us"][0]), fmt(vals["lat_p99_us"][1]), ratio(*vals["lat_p99_us"]),
                fmt(worst(rc, "lost")), fmt(worst(rm, "lost")),
                f"{len(rc)}/{len(rm)}",
            ]) + " |")
    if conn:
        out.append("")
        out.append(f"| scenario | connects/s {c} | connects/s {m} | ratio connects/s (higher is better) "
                   f"| RSS KB/conn {c} | RSS KB/conn {m} | ratio RSS/conn (lower is better) | runs ok {c}/{m} |")
        out.append("|" + "---|" * 8)
        for s in conn:
            rc, rm = ok(s, first), ok(s, second)
            cps = (median(rc, "connects_per_s"), median(rm, "connects_per_s"))
            rss = (median(rc, "rss_kb_per_conn"), median(rm, "rss_kb_per_conn"))
            out.append("| " + " | ".join([
                s, fmt(cps[0]), fmt(cps[1]), ratio(*cps),
                fmt(rss[0], 2), fmt(rss[1], 2), ratio(*rss), f"{len(rc)}/{len(rm)}",
            ]) + " |")
    busy = max((r.get("loadavg_1m", 0) for r in results), default=0)
    ncpu = os.cpu_count() or 1
    if busy > ncpu:
        out.append("")
        out.append(f"Warning: the machine was busy (1-minute load average up to {busy:.1f} on {ncpu} CPUs); "
                   "latency tails and throughput are unreliable. See loadavg_1m in the raw results.")
    errors = [r for r in results if "error" in r]
    if errors:
        out.append("")
        out.append("Failed runs:")
        for r in errors:
            out.append(f"- {r['scenario_id']} / {r['broker']} / round {r['round']}: {r['error'][:300]}")
    return "\n".join(out)


# ---- main -------------------------------------------------------------------------------

def default_loadgen():
    here = os.path.dirname(os.path.abspath(__file__))
    for cand in (os.path.join(here, "..", "build", "bench", "colony_loadgen"),
                 os.path.join(here, "build", "colony_loadgen")):
        if os.access(cand, os.X_OK):
            return os.path.normpath(cand)
    return shutil.which("colony_loadgen")


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--colony", help="Colony broker binary (required unless --brokers mosquitto)")
    p.add_argument("--mosquitto", default="/usr/sbin/mosquitto", help="Mosquitto binary (%(default)s)")
    p.add_argument("--loadgen", default=default_loadgen(), help="colony_loadgen binary (default: build/bench)")
    p.add_argument("--brokers", default="colony,mosquitto", help="comma list of brokers to run (%(default)s)")
    p.add_argument("--scenarios", default=",".join(SCENARIOS),
                   help="comma list of scenario ids (default: all): " + ", ".join(SCENARIOS))
    p.add_argument("--rounds", type=int, default=3, help="rounds per scenario and broker (%(default)s)")
    p.add_argument("--duration", type=float, default=10, help="measured seconds per run (%(default)s)")
    p.add_argument("--warmup", type=float, default=1, help="warm-up seconds per run (%(default)s)")
    p.add_argument("--hold", type=float, default=5, help="conn: seconds to hold the connections (%(default)s)")
    p.add_argument("--max-queued", type=int, default=100000,
                   help="Colony --max-queued-messages (%(default)s)")
    p.add_argument("--mosquitto-max-queued", type=int, default=10000000,
                   help="Mosquitto max_queued_messages (%(default)s). Mosquitto 2.0.11 drops QoS 1 "
                        "messages to a saturated subscriber with 100000 although far fewer are queued; "
                        "use 100000 to reproduce")
    p.add_argument("--max-inflight", type=int, default=1000,
                   help="Colony --max-inflight and Mosquitto max_inflight_messages (%(default)s)")
    p.add_argument("--no-mosquitto-nodelay", dest="mosquitto_nodelay", action="store_false",
                   help="leave Nagle on in Mosquitto (default: set_tcp_nodelay true)")
    p.add_argument("--loadgen-arg", action="append", default=[],
                   help="extra argument passed to colony_loadgen (repeatable, e.g. --loadgen-arg=--threads=2)")
    p.add_argument("--out", help="raw JSON lines file (default: bench-results/compare-<time>.jsonl)")
    p.add_argument("--logs", help="directory for broker logs and configs (default: temporary, removed)")
    p.add_argument("--broker-start-timeout", type=float, default=10)
    p.add_argument("--pause", type=float, default=1.0, help="seconds between runs (%(default)s)")
    args = p.parse_args(argv)

    args.brokers = [b.strip() for b in args.brokers.split(",") if b.strip()]
    args.scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    for b in args.brokers:
        if b not in BROKERS:
            p.error(f"unknown broker {b!r} (choose from {', '.join(BROKERS)})")
    for s in args.scenarios:
        if s not in SCENARIOS:
            p.error(f"unknown scenario {s!r} (choose from {', '.join(SCENARIOS)})")
    wants_colony = any(b.startswith("colony") for b in args.brokers)
    if wants_colony and not args.colony:
        p.error("--colony BIN is required (or use --brokers mosquitto)")
    for name, path in (("--colony", args.colony if wants_colony else None),
                       ("--mosquitto", args.mosquitto if "mosquitto" in args.brokers else None),
                       ("--loadgen", args.loadgen)):
        if path is not None and not os.access(path, os.X_OK):
            p.error(f"{name}: {path!r} is not an executable file")
    if not args.loadgen:
        p.error("colony_loadgen not found; build it (target colony_loadgen) or pass --loadgen")
    if args.rounds < 1:
        p.error("--rounds must be >= 1")
    return args


def main(argv):
    args = parse_args(argv)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = args.out or os.path.join("bench-results", f"compare-{stamp}.jsonl")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    workdir = args.logs or tempfile.mkdtemp(prefix="colony-compare-")
    os.makedirs(workdir, exist_ok=True)

    results = []
    total = args.rounds * len(args.scenarios) * len(args.brokers)
    n = 0
    try:
        with open(out, "w") as raw:
            for rnd in range(1, args.rounds + 1):
                for scenario in args.scenarios:
                    order = list(args.brokers) if rnd % 2 == 1 else list(reversed(args.brokers))
                    for kind in order:
                        n += 1
                        log(f"[{n}/{total}] round {rnd} {scenario} on {kind}")
                        r = run_one(args, scenario, kind, rnd, workdir)
                        results.append(r)
                        raw.write(json.dumps(r) + "\n")
                        raw.flush()
                        if "error" in r:
                            log(f"  failed: {r['error'][:300]}")
                        else:
                            log("  " + ", ".join(f"{k}={r.get(k)}" for k in (
                                "msgs_per_s", "lat_p50_us", "lat_p99_us", "lost", "connects_per_s",
                                "rss_kb_per_conn") if r.get(k) is not None))
                        time.sleep(args.pause)
    except KeyboardInterrupt:
        log("interrupted; summarizing what ran")
    finally:
        if not args.logs:
            shutil.rmtree(workdir, ignore_errors=True)

    table = summarize(args, results)
    root, ext = os.path.splitext(out)
    # The table goes next to the raw lines, never over them (--out x.md would have been both).
    md = (root if ext == ".jsonl" else out) + ".md"
    with open(md, "w") as f:
        f.write(table + "\n")
    print(table)
    log(f"raw results: {out}; table: {md}")
    return 0 if results and all("error" not in r for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
