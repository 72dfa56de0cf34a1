#!/usr/bin/env python3
"""Soak: sustained mixed load on the dev server with --state, killed with kill -9 and restarted.

What runs, all on loopback:
* `cargo inngest dev-server --state <tmp>/state.sqlite -u <app>` (release build), restarted on
  the same port after every kill;
* the conformance app (`conformance-app`, release, the function contract of
  tests/conformance/js/functions.mjs in Rust) on a port of its own.

The load, for --minutes (default 10): events for the contract's functions, each with an id of
its own (sleeps of 3 days, waits fed or left to time out, step failures and retries, parallel
steps, invokes, sent events, non-retriable errors), a third of the sleeping runs cancelled
through the API, the clock moved forward every second. Every few tens of seconds the server
is killed with SIGKILL at a random point and started again; sends that fail while it is down
are sent again with the same id (the event API deduplicates by id).

Then the load stops, the clock is moved until every run has ended, and each event is checked:
* lost: an event the server accepted that started no run of its function;
* duplicated: more than one run of a function for one event;
* stuck: a run still running at the end.
It reports the server's peak resident memory during the soak, p50/p99 API latency, and then the
cost of a run, the API's latency and the server's memory with 1,000, 10,000 and 50,000 runs
stored (--scale to change).

Results replace the block between the markers in docs/reliability.md (--no-write to print only).
Usage: python3 bench/soak/run.py [--minutes 10] [--scale 1000,10000,50000] [--no-write]
"""
import argparse, json, os, random, re, signal, statistics, subprocess, sys, tempfile, threading
import time, urllib.error, urllib.request, uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
DOC = ROOT / "docs/reliability.md"
START, END = "<!-- soak:start -->", "<!-- soak:end -->"
APP = "probe-app"

# (function id, event name, data, what the run does)
KINDS = [
    ("welcome-user", "user/user.created", {"email": "ada@example.com", "userId": "u"}, "sleep"),
    ("wait-for-payment", "billing/checkout.started", {"orderId": None}, "wait"),
    ("failing-step", "app/fail", {}, "retries"),
    ("plain-throw", "app/plain", {}, "retries"),
    ("parallel-steps", "app/parallel", {}, "parallel"),
    ("parent-fn", "app/parent.requested", {"n": 21}, "invoke"),
    ("send-event", "app/send", {}, "send"),
    ("non-retriable", "app/bad.input", {"x": 1}, "fails"),
]


class Latency:
    def __init__(self):
        self.samples = []
        self.lock = threading.Lock()

    def add(self, seconds):
        with self.lock:
            self.samples.append(seconds)

    def quantile(self, q):
        with self.lock:
            s = sorted(self.samples)
        return s[min(len(s) - 1, int(q * len(s)))] if s else float("nan")


LAT = Latency()


def call(url, method="GET", body=None, timeout=10):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    t = time.monotonic()
    with urllib.request.urlopen(req, timeout=timeout) as r:
        out = json.loads(r.read() or b"null")
    LAT.add(time.monotonic() - t)
    return out


def rss_peak_mib(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def rss_mib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Server:
    """The dev server process, started again on the same port after each kill."""

    def __init__(self, state, app_url, log):
        self.state, self.app_url, self.log = state, app_url, log
        self.port = 0
        self.proc = None
        self.peak = 0.0
        self.kills = 0

    def start(self):
        cmd = [str(TARGET / "release/cargo-inngest"), "inngest", "dev-server", "--port",
               str(self.port), "--state", str(self.state), "-u", self.app_url,
               "--poll-interval", "2", "--retry-interval", "1"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.log, text=True,
                                     env={**os.environ, "RUST_LOG": "warn"})
        for line in self.proc.stdout:
            m = re.search(r"inngest dev server on http://127\.0\.0\.1:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                threading.Thread(target=lambda p=self.proc: [None for _ in p.stdout],
                                 daemon=True).start()
                break
        else:
            sys.exit(f"the dev server exited with {self.proc.wait()}")
        self.wait_up()

    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def wait_up(self):
        for _ in range(200):
            try:
                call(self.url() + "/dev", timeout=2)
                return
            except OSError:
                time.sleep(0.05)
        sys.exit("the dev server did not come up")

    def kill(self):
        self.peak = max(self.peak, rss_peak_mib(self.proc.pid))
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.kills += 1

    def stop(self):
        self.peak = max(self.peak, rss_peak_mib(self.proc.pid))
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def send(server, event, deadline=30):
    """Sends until accepted (the same id each time, so a retry cannot start a second run)."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            call(server.url() + "/e/soak", "POST", event)
            return True
        except (OSError, urllib.error.HTTPError):
            time.sleep(0.2)
    return False


def load(server, minutes, rng):
    sent = []  # (event id, function id, kind)
    stop_at = time.monotonic() + minutes * 60
    next_kill = time.monotonic() + rng.uniform(15, 45)
    feed = []
    while time.monotonic() < stop_at:
        for _ in range(8):
            fn, name, data, kind = rng.choice(KINDS)
            eid = str(uuid.uuid4())
            data = dict(data)
            if kind == "wait":
                data["orderId"] = eid
                if rng.random() < 0.5:
                    feed.append({"id": eid + "-paid", "name": "billing/payment.succeeded",
                                 "data": {"orderId": eid, "amount": 1}})
            if send(server, {"id": eid, "name": name, "data": data}):
                sent.append((eid, f"{APP}-{fn}", kind))
        while feed and rng.random() < 0.7:
            send(server, feed.pop())
        # Cancel a third of the sleeping runs through the API.
        if sent and rng.random() < 0.3:
            eid, fn, kind = rng.choice(sent)
            if kind == "sleep":
                try:
                    for run in call(f"{server.url()}/v1/events/{eid}/runs")["data"]:
                        call(f"{server.url()}/v1/runs/{run['run_id']}", "DELETE")
                except (OSError, urllib.error.HTTPError):
                    pass
        try:
            call(server.url() + "/dev/time/advance", "POST", {"duration": "1h"})
        except (OSError, urllib.error.HTTPError):
            pass
        if time.monotonic() >= next_kill:
            # A random point: mid-intake, mid-call, mid-wake-up.
            time.sleep(rng.uniform(0, 0.5))
            server.kill()
            time.sleep(rng.uniform(0.1, 1.0))
            server.start()
            next_kill = time.monotonic() + rng.uniform(15, 45)
        time.sleep(0.25)
    for ev in feed:
        send(server, ev)
    return sent


def settle(server, sent, seconds=120):
    """Moves the clock until every run has ended; returns the runs of each event."""
    end = time.monotonic() + seconds
    runs = {}
    while True:
        call(server.url() + "/dev/time/advance", "POST", {"duration": "3d"})
        time.sleep(1)
        runs = {}
        running = 0
        for eid, fn, _ in sent:
            rs = [r for r in call(f"{server.url()}/v1/events/{eid}/runs")["data"]
                  if r["function_id"] == fn]
            runs[eid] = rs
            running += sum(1 for r in rs if r["status"] == "Running")
        if running == 0 or time.monotonic() > end:
            return runs


def scale(server, sizes, rng):
    """CPU per run and API latency as the stored runs grow."""
    rows = []
    stored = 0
    probe_event = None
    for size in sizes:
        while stored < size:
            n = min(500, size - stored)
            batch = [{"id": str(uuid.uuid4()), "name": "app/parallel", "data": {}} for _ in range(n)]
            call(server.url() + "/e/soak", "POST", batch, timeout=60)
            probe_event = probe_event or batch[0]["id"]
            stored += n
            wait_idle(server, batch[-1]["id"])
        # 200 runs at this size: the server's CPU time for them, and the API's latency.
        cpu0 = cpu_seconds(server.proc.pid)
        t0 = time.monotonic()
        batch = [{"id": str(uuid.uuid4()), "name": "app/parallel", "data": {}} for _ in range(200)]
        call(server.url() + "/e/soak", "POST", batch, timeout=60)
        wait_idle(server, batch[-1]["id"])
        cpu = cpu_seconds(server.proc.pid) - cpu0
        took = time.monotonic() - t0
        stored += 200
        lat = {}
        # The event's runs, the page's list of the latest runs, the dev server's own info.
        paths = {"event": f"/v1/events/{probe_event}/runs", "list": "/v1/runs?limit=50",
                 "dev": "/dev"}
        for name, path in paths.items():
            samples = []
            for _ in range(30):
                t = time.monotonic()
                urllib.request.urlopen(server.url() + path, timeout=10).read()
                samples.append(time.monotonic() - t)
            lat[name] = statistics.median(samples) * 1000
        rows.append((stored, cpu / 200 * 1000, 200 / took, lat, rss_mib(server.proc.pid)))
    return rows


def wait_idle(server, last_event, limit=120):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        rs = call(f"{server.url()}/v1/events/{last_event}/runs")["data"]
        if rs and all(r["status"] != "Running" for r in rs):
            time.sleep(0.2)
            return
        time.sleep(0.1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--scale", default="1000,10000,50000")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "cargo-inngest",
                    "-p", "conformance-app", "--bin", "cargo-inngest", "--bin", "conformance-app"],
                   cwd=ROOT, check=True)
    tmp = Path(tempfile.mkdtemp(prefix="soak-"))
    log = open(tmp / "server.log", "w")
    # The app first, on a free port; it learns the server's address once that is known, so
    # the server starts first on a free port and the app is told.
    server = Server(tmp / "state.sqlite", "http://127.0.0.1:9/unused", log)
    server.start()
    app = subprocess.Popen([str(TARGET / "release/conformance-app")],
                           env={**os.environ, "PORT": "0", "INNGEST_DEV": server.url(),
                                "RUST_LOG": "info", "NO_COLOR": "1"},
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    app_url = None
    # tracing writes to stdout: the line says where the app listens.
    for line in app.stdout:
        m = re.search(r"serving probe-app on (http://\S+)", line)
        if m:
            app_url = m.group(1)
            threading.Thread(target=lambda: [None for _ in app.stdout], daemon=True).start()
            break
    if not app_url:
        sys.exit("the app did not start")
    server.app_url = app_url
    server.kill()
    server.kills = 0
    server.start()
    call(server.url() + "/dev/sync", "POST", {"url": app_url})
    t0 = time.monotonic()
    sent = load(server, args.minutes, rng)
    runs = settle(server, sent)
    soak_minutes = (time.monotonic() - t0) / 60
    lost = sum(1 for eid, _, _ in sent if not runs.get(eid))
    dup = sum(1 for eid, _, _ in sent if len(runs.get(eid, [])) > 1)
    stuck = sum(1 for eid, _, _ in sent for r in runs.get(eid, []) if r["status"] == "Running")
    done = sum(1 for eid, _, _ in sent for r in runs.get(eid, []) if r["status"] != "Running")
    statuses = {}
    for eid, _, _ in sent:
        for r in runs.get(eid, []):
            statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    p50, p99 = LAT.quantile(0.5) * 1000, LAT.quantile(0.99) * 1000
    soak_peak = max(server.peak, rss_peak_mib(server.proc.pid))
    sizes = [int(s) for s in args.scale.split(",") if s]
    rows = scale(server, sizes, rng) if sizes else []
    server.stop()
    app.terminate()
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on this machine ({os.cpu_count()} cores), "
        f"seed {args.seed}: {args.minutes:g} minutes of load, {soak_minutes:.1f} minutes in all.",
        "",
        "| runs sent | ended | lost | duplicated | stuck | kills | peak memory | API p50 / p99 |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {len(sent):,} | {done:,} | **{lost}** | **{dup}** | **{stuck}** | {server.kills} | "
        f"{soak_peak:.1f} MiB | {p50:.1f} ms / {p99:.1f} ms |",
        "",
        "Outcomes: " + ", ".join(f"{k} {v:,}" for k, v in sorted(statuses.items())) + ".",
    ]
    if rows:
        lines += [
            "",
            "| runs stored | server CPU per run | runs/s | `GET /v1/events/{id}/runs` | `GET /v1/runs?limit=50` (the page's list) | `GET /dev` | server memory |",
            "|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for stored, cpu_ms, rate, lat, rss in rows:
            lines.append(f"| {stored:,} | {cpu_ms:.2f} ms | {rate:.0f} | {lat['event']:.2f} ms | "
                         f"{lat['list']:.2f} ms | {lat['dev']:.2f} ms | {rss:.1f} MiB |")
    block = "\n".join(lines)
    print(block)
    if not args.no_write:
        text = DOC.read_text()
        a, b = text.index(START) + len(START), text.index(END)
        DOC.write_text(text[:a] + "\n\n" + block + "\n\n" + text[b:])
    sys.exit(1 if lost or dup or stuck else 0)


if __name__ == "__main__":
    main()
