#!/usr/bin/env python3
"""Serve-mode benchmark: our runtime against the official Inngest JS SDK, same machine, same run.

Both apps serve `welcome-user` and `hundred-steps` (see app.mjs and
examples/conformance/src/bin/bench-app.rs). For each, wrk replays the *final* execution request
of a run (every step memoized, so the handler replays the whole run and returns its output):

* `welcome-user`: the recorded request tests/conformance/recordings/welcome-user/04-request.json;
* `hundred-steps`: 100 memoized `step.run` results.

Both apps must first give the same 200 answer to each request, or the benchmark stops.
Each cell also measures the floor: the same body POSTed to a bare axum route of the Rust app
that answers a fixed value (HTTP on loopback and wrk, no Inngest work), and `/floor-json`, the
same route reading the body's JSON once with serde_json and building nothing: the least any
handler that reads the request pays, so the share it leaves bounds the runtime's. For
`welcome-user` also `/floor-min`: the least any serde-based SDK does for that request (one
borrowed parse, the typed event decoded and validated, the 3 step ids hashed and looked up, the
2 memos decoded, the answer and the SDK's headers written), written by hand for this request.
Loads: 1 connection (latency as one executor sees it), 4 and 16 connections (throughput).
For the Rust app and its floor it also reports the app's CPU time per request (user and
system, read from /proc before and after each wrk run).
The results replace the block between the markers in docs/performance.md.

Usage: python3 bench/serve/run.py [--duration 10] [--no-write]
Needs: wrk, node with npm, cargo. bench/serve/run.sh installs what is missing.
"""
import argparse, hashlib, json, os, signal, subprocess, sys, tempfile, threading, time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
CORPUS = ROOT / "tests/conformance/recordings"
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
START, END = "<!-- serve-bench:start -->", "<!-- serve-bench:end -->"
CONNECTIONS = (1, 4, 16)
RUST = "inngest-runtime (Rust)"


def listening(proc):
    """The address a child prints once it has bound port 0: `listening on 127.0.0.1:<port>`."""
    for line in proc.stdout:
        if "listening on " in line:
            # Keep reading what it prints, so it never blocks on a full pipe.
            threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
            return line.split("listening on ", 1)[1].split()[0]
    sys.exit(f"the app exited with {proc.wait()} before it listened")


def post(url, body):
    req = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "X-Inngest-Server-Kind": "dev"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status, json.loads(r.read())


def wait_ready(url, proc):
    for _ in range(300):
        if proc.poll() is not None:
            sys.exit(f"{url}: the app exited with {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"{url}: the app did not answer")


def peak_rss_mib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def requests():
    """(name, query, body, answer, its hand-written minimum route) of the two final requests."""
    rec = json.loads((CORPUS / "welcome-user/04-request.json").read_text())
    query = rec["url"].split("?", 1)[1]
    welcome = json.dumps(rec["body"]).encode()
    event = {"name": "bench/hundred.requested", "data": {}, "id": "01JBENCHEVT0000000000000001",
             "ts": 1767225600000}
    ids = [hashlib.sha1(f"step-{i}".encode()).hexdigest() for i in range(100)]
    hundred = json.dumps({
        "event": event, "events": [event],
        "steps": {h: {"data": i} for i, h in enumerate(ids)},
        "ctx": {"run_id": "01JBENCHRUN000000000000001", "attempt": 0, "max_attempts": 4,
                "disable_immediate_execution": False, "use_api": False,
                "stack": {"stack": ids, "current": 99}},
        "version": 2, "use_api": False,
    }).encode()
    return [("welcome-user final request", query, welcome, {"emailsSent": 2}, "/floor-min"),
            ("hundred-steps final request", "fnId=probe-app-hundred-steps&stepId=step", hundred,
             {"steps": 100, "sum": 4950}, None)]


def cpu_seconds(pid):
    """(user, system) CPU seconds the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def wrk_on(pid, url, body_path, connections, duration):
    """wrk, plus the CPU time the app under test spent per request (µs, user and system):
    steadier than the rates, which drift with the machine's speed."""
    u0, s0 = cpu_seconds(pid)
    r = wrk(url, body_path, connections, duration)
    u1, s1 = cpu_seconds(pid)
    r["user_us"] = (u1 - u0) / max(r["requests"], 1) * 1e6
    r["sys_us"] = (s1 - s0) / max(r["requests"], 1) * 1e6
    return r


def wrk(url, body_path, connections, duration):
    env = dict(os.environ, BENCH_BODY=str(body_path))
    out = subprocess.run(
        # A 10 s timeout instead of wrk's 2 s: on a slow day the JS app's p99 at 16 connections
        # passed 1.5 s, and a timed-out request counts as a socket error, which stops the run.
        ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "10s",
         "-s", str(HERE / "post.lua"), url],
        env=env, capture_output=True, text=True, check=True).stdout
    line = next(l for l in out.splitlines() if l.startswith("BENCH "))
    r = json.loads(line[6:])
    if r["socket_errors"] or r["non_2xx"] or not r["requests"]:
        sys.exit(f"wrk against {url}: {r}")
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    return r


def setup_js():
    """The official SDK, installed by .ci/js-sdk.sh (with app.mjs copied as bench-app.mjs)."""
    out = subprocess.run(["bash", str(ROOT / ".ci/js-sdk.sh")], check=True, capture_output=True, text=True)
    js_dir = Path(out.stdout.strip())
    return js_dir, json.loads((js_dir / "node_modules/inngest/package.json").read_text())["version"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3,
                    help="alternating Rust/floor rounds per cell; the median round is reported")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()

    js_dir, js_version = setup_js()
    subprocess.run(["cargo", "build", "-q", "--release", "-p", "conformance-app", "--bin", "bench-app"],
                   cwd=ROOT, check=True)
    env = dict(os.environ, INNGEST_DEV="http://127.0.0.1:9", RUST_LOG="warn")
    procs = {
        RUST: subprocess.Popen([TARGET / "release/bench-app"], env=dict(env, PORT="0"),
                                                   stdout=subprocess.PIPE, text=True),
        f"official JS SDK {js_version} (Node {subprocess.check_output(['node', '--version'], text=True).strip()})":
            subprocess.Popen(["node", "bench-app.mjs"], cwd=js_dir, env=dict(env, APP_PORT="0"),
                             stdout=subprocess.PIPE, text=True),
    }
    addrs = {name: listening(p) for name, p in procs.items()}
    rust_addr = addrs[RUST]
    urls = {name: f"http://{addr}/api/inngest" for name, addr in addrs.items()}
    rows = []
    try:
        for name, proc in procs.items():
            wait_ready(urls[name], proc)
        with tempfile.TemporaryDirectory() as tmp:
            for label, query, body, expected, minimum in requests():
                body_path = Path(tmp) / "body.json"
                body_path.write_bytes(body)
                for name in procs:
                    status, answer = post(f"{urls[name]}?{query}", body)
                    if status != 200 or answer != expected:
                        sys.exit(f"{name} answered {status} {answer} to the {label}, expected 200 {expected}")
                if minimum:
                    status, answer = post(f"http://{rust_addr}{minimum}", body)
                    if status != 200 or answer != expected:
                        sys.exit(f"{minimum} answered {status} {answer} to the {label}, expected 200 {expected}")
                for c in CONNECTIONS:
                    # The JS app once; the Rust app and the floor in alternating rounds, since
                    # this machine's speed drifts: each round's ratio compares neighbours in time.
                    res = {name: wrk(f"{urls[name]}?{query}", body_path, c, args.duration)
                           for name in procs if name != RUST}
                    rounds = []
                    pid = procs[RUST].pid
                    for _ in range(args.rounds):
                        ours = wrk_on(pid, f"{urls[RUST]}?{query}", body_path, c, args.duration)
                        floor = wrk_on(pid, f"http://{rust_addr}/floor", body_path, c, args.duration)
                        json_once = wrk(f"http://{rust_addr}/floor-json", body_path, c, args.duration)
                        least = minimum and wrk(f"http://{rust_addr}{minimum}", body_path, c, args.duration)
                        rounds.append((ours, floor, json_once, least))
                    json_shares = sorted(r[2]["rps"] / r[1]["rps"] for r in rounds)
                    min_shares = sorted(r[3]["rps"] / r[1]["rps"] for r in rounds) if minimum else []
                    rounds.sort(key=lambda r: r[0]["rps"] / r[1]["rps"])
                    ours, floor, _, _ = rounds[len(rounds) // 2]
                    res[RUST] = ours
                    res = {name: res[name] for name in procs}
                    floor["share"] = [r[0]["rps"] / r[1]["rps"] for r in rounds]
                    floor["json_share"] = json_shares
                    floor["min_share"] = min_shares
                    rows.append((label, c, res, floor))
                    print(label, f"{c} conn", {n: round(r["rps"]) for n, r in res.items()},
                          "floor", round(floor["rps"]), flush=True)
        rss = {name: peak_rss_mib(p.pid) for name, p in procs.items()}
    finally:
        for p in procs.values():
            p.send_signal(signal.SIGTERM)
            p.wait(10)

    rust, js = list(procs)
    lines = [START, "",
             f"Measured {time.strftime('%Y-%m-%d')} on this machine ({os.cpu_count()} cores), "
             f"wrk 1 thread, {args.duration} s per cell, loopback. "
             f"Ratio = Rust ÷ JS for throughput, JS ÷ Rust for latency (higher is better for us). "
             f"Rust and the floor are measured in {args.rounds} alternating rounds per cell; the "
             f"round with the median Rust ÷ floor share is shown, with every round's share. "
             f"CPU = the Rust app's CPU time per request in that round (user + system, from "
             f"/proc), on its API route and on the floor route. `/floor-json` ÷ floor = the share "
             f"of the floor's rate left by reading the body's JSON once and nothing else (median "
             f"of the rounds, then every round's); `/floor-min` ÷ floor the same for the least a "
             f"serde-based SDK does for the welcome-user request.", "",
             "| request | connections | Rust req/s | JS req/s | throughput ratio | Rust p50 / p99 | JS p50 / p99 | p50 ratio | floor req/s, p50 | Rust ÷ floor | `/floor-json` ÷ floor | `/floor-min` ÷ floor | CPU per request: Rust, floor |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    def shares(xs):
        if not xs:
            return "—"
        return f"{100 * xs[len(xs) // 2]:.0f}% ({', '.join(f'{100 * x:.0f}' for x in xs)})"

    for label, c, res, floor in rows:
        r, j = res[rust], res[js]
        lines.append(
            f"| {label} | {c} | {r['rps']:,.0f} | {j['rps']:,.0f} | **{r['rps'] / j['rps']:.0f}x** | "
            f"{r['p50_us']} µs / {r['p99_us']} µs | {j['p50_us']} µs / {j['p99_us']} µs | "
            f"{j['p50_us'] / max(r['p50_us'], 1):.0f}x | {floor['rps']:,.0f}, {floor['p50_us']} µs | "
            f"**{100 * r['rps'] / floor['rps']:.0f}%** ({', '.join(f'{100 * x:.0f}' for x in floor['share'])}) | "
            f"{shares(floor['json_share'])} | {shares(floor['min_share'])} | "
            f"{r['user_us']:.1f} + {r['sys_us']:.1f} µs, {floor['user_us']:.1f} + {floor['sys_us']:.1f} µs |")
    lines += ["", f"Peak resident memory after the whole run: Rust {rss[rust]:.1f} MiB, "
                  f"JS {rss[js]:.1f} MiB ({rss[js] / rss[rust]:.0f}x less for Rust).", "", END]
    block = "\n".join(lines)
    print(block)
    if not args.no_write:
        doc = ROOT / "docs/performance.md"
        text = doc.read_text()
        start, end = text.index(START), text.index(END) + len(END)
        doc.write_text(text[:start] + block + text[end:])
        print(f"written into {doc.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
