#!/usr/bin/env python3
"""Instructions per request of the serve endpoint, against the floor route, under callgrind.

Wall-clock rates on this machine drift by tens of percent from one minute to the next;
instruction counts do not. This runs the release bench app (`examples/conformance/src/bin/
bench-app.rs`, one tokio worker) under `valgrind --tool=callgrind` twice per route, sending
`FEW` and then `MANY` requests on one keep-alive connection, and reports the difference divided
by `MANY - FEW`: the user-space instructions one more request costs (hyper, axum, our handler),
start-up excluded. The kernel's share (loopback, syscalls) is not counted, and it is the same
for both routes, so the real share of the floor is higher than the instruction ratio.

    python3 bench/serve/profile.py            # prints the table
    python3 bench/serve/profile.py --annotate # and the top functions of one handler run
"""

import argparse
import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests/conformance/recordings"
FEW, MANY = 200, 1200


def build():
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "profile"
    env = dict(os.environ, CARGO_TARGET_DIR=str(target), CARGO_PROFILE_RELEASE_DEBUG="line-tables-only")
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "conformance-app", "--bin", "bench-app"],
                   cwd=ROOT, env=env, check=True)
    return target / "release/bench-app"


def welcome_request():
    rec = json.loads((CORPUS / "welcome-user/04-request.json").read_text())
    return "/api/inngest?" + rec["url"].split("?", 1)[1], json.dumps(rec["body"]).encode()


def run(app, path, body, n, out):
    """Runs the app under callgrind, sends `n` requests, stops it; its total instructions."""
    env = dict(os.environ, PORT="0", TOKIO_WORKER_THREADS="1", INNGEST_DEV="http://127.0.0.1:9")
    proc = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", str(app)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    m = re.search(r"listening on ([\d.]+):(\d+)", line)
    if not m:
        proc.kill()
        sys.exit(f"the bench app did not start: {line!r}")
    conn = http.client.HTTPConnection(m.group(1), int(m.group(2)), timeout=60)
    for _ in range(n):
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        resp.read()
        if resp.status != 200:
            sys.exit(f"{path} answered {resp.status}")
    conn.close()
    proc.terminate()
    proc.wait(timeout=120)
    text = Path(out).read_text(errors="replace")
    total = re.search(r"^summary:\s+(\d+)", text, re.M) or re.search(r"^totals:\s+(\d+)", text, re.M)
    return int(total.group(1))


def per_request(app, path, body, tmp, name):
    few = run(app, path, body, FEW, f"{tmp}/{name}-few.out")
    many = run(app, path, body, MANY, f"{tmp}/{name}-many.out")
    return (many - few) / (MANY - FEW), f"{tmp}/{name}-many.out"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--annotate", action="store_true", help="print the top inclusive costs of the handler run")
    args = p.parse_args()
    app = build()
    path, body = welcome_request()
    with tempfile.TemporaryDirectory() as tmp:
        ours, profile = per_request(app, path, body, tmp, "handler")
        floor, _ = per_request(app, "/floor", body, tmp, "floor")
        floor_json, _ = per_request(app, "/floor-json", body, tmp, "floor-json")
        floor_min, _ = per_request(app, "/floor-min", body, tmp, "floor-min")
        print(f"instructions per request (user space, one more request, {MANY - FEW} requests measured)")
        print("| route | instructions / request | floor ÷ route |")
        print("|---|---:|---:|")
        print(f"| `/floor`, the bare axum route | {floor:,.0f} | 100% |")
        print(f"| `/floor-json`, the same route reading the body's JSON once (serde_json, builds nothing) "
              f"| {floor_json:,.0f} | {100 * floor / floor_json:.0f}% |")
        print(f"| `/floor-min`, the least a serde-based SDK does for this request (one borrowed parse, "
              f"typed event validated, 3 step ids hashed, 2 memos decoded, answer written) "
              f"| {floor_min:,.0f} | {100 * floor / floor_min:.0f}% |")
        print(f"| welcome-user final request (3 memoized steps) | {ours:,.0f} | {100 * floor / ours:.0f}% |")
        if args.annotate:
            out = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=99", profile],
                                 capture_output=True, text=True).stdout
            for line in out.splitlines()[:80]:
                print(line)


if __name__ == "__main__":
    main()
