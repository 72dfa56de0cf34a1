#!/usr/bin/env python3
"""`cargo inngest dev` overhead: from saving a file to the new build serving, minus cargo's build.

A scratch project (`cargo new` + `cargo inngest configure`) runs under `cargo inngest dev
--server embedded`. Each round renames the sample workflow's id in its source file and polls
the dev server's `/v1/apps` (every 5 ms) until the renamed function is registered. The time
from the write to that moment, minus the build time `dev` reports for that rebuild ("built in
N ms"), is our own overhead: change detection and debounce, stopping the old app, starting the
new one, waiting for it to listen, and syncing it. The target is under 300 ms.

Usage: python3 bench/dev/run.py [--rounds 10] [--no-write]
BENCH_VERBOSE=1 also prints what `dev` printed in each round.
"""
import argparse, json, os, re, shutil, socket, statistics, subprocess, sys, tempfile, threading, time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
START, END = "<!-- dev-bench:start -->", "<!-- dev-bench:end -->"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def functions(server):
    try:
        with urllib.request.urlopen(f"{server}/v1/apps", timeout=1) as r:
            apps = json.loads(r.read())["data"]
    except OSError:
        return set()
    return {f["id"] for a in apps for f in a["functions"]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    subprocess.run(["cargo", "build", "-q", "--bin", "cargo-inngest"], cwd=ROOT, check=True)
    cli = TARGET / "debug/cargo-inngest"
    tmp = Path(tempfile.mkdtemp())
    try:
        subprocess.run(["cargo", "new", "-q", "--vcs", "none", "shop"], cwd=tmp, check=True)
        project = tmp / "shop"
        subprocess.run([cli, "inngest", "configure", "--runtime-path", ROOT / "crates/inngest-runtime"],
                       cwd=project, check=True, stdout=subprocess.DEVNULL)
        shutil.copy(ROOT / "Cargo.lock", project / "Cargo.lock")
        port, app_port = free_port(), free_port()
        server = f"http://127.0.0.1:{port}"
        env = dict(os.environ, CARGO_TARGET_DIR=str(TARGET / "scaffold-check"), CARGO_NET_OFFLINE="true")
        dev = subprocess.Popen([cli, "inngest", "dev", "--server", "embedded", "--port", str(port),
                                "--app-port", str(app_port)], cwd=project, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        lines = []
        threading.Thread(target=lambda: [lines.append(l) for l in dev.stdout], daemon=True).start()
        deadline = time.time() + 600
        while "shop-hello" not in functions(server):
            if time.time() > deadline or dev.poll() is not None:
                sys.exit("dev never served:\n" + "".join(lines))
            time.sleep(0.05)
        workflow = project / "src/workflows/hello_workflow.rs"
        rows = []
        current = "hello"
        for i in range(args.rounds):
            new = f"hello-{i}"
            # Let the previous round's output settle, so each round starts from quiet.
            time.sleep(1.0)
            mark = len(lines)
            text = workflow.read_text().replace(f'WorkflowOptions::new("{current}")', f'WorkflowOptions::new("{new}")')
            t0 = time.perf_counter()
            workflow.write_text(text)
            while f"shop-{new}" not in functions(server):
                if time.perf_counter() - t0 > 300:
                    sys.exit("the new build never served:\n" + "".join(lines[mark:]))
                time.sleep(0.005)
            total_ms = (time.perf_counter() - t0) * 1000
            built = None
            for _ in range(100):
                built = next((int(m.group(1)) for l in lines[mark:] if (m := re.search(r"built in (\d+) ms", l))), None)
                if built is not None:
                    break
                time.sleep(0.01)
            rows.append((total_ms, built, total_ms - built))
            if os.environ.get("BENCH_VERBOSE"):
                print("".join(lines[mark:]), flush=True)
            current = new
            print(f"round {i}: save → serving {total_ms:.0f} ms, build {built} ms, overhead {total_ms - built:.0f} ms", flush=True)
        dev.terminate()
        dev.wait(30)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    over = sorted(r[2] for r in rows)
    builds = sorted(r[1] for r in rows)
    totals = sorted(r[0] for r in rows)
    block = "\n".join([
        START, "",
        f"Measured {time.strftime('%Y-%m-%d')} on this machine ({os.cpu_count()} cores), {len(rows)} rounds, debug build of the scratch app.", "",
        "| | median | max |", "|---|---:|---:|",
        f"| save → new build serving | {statistics.median(totals):.0f} ms | {max(totals):.0f} ms |",
        f"| cargo build (as `dev` reports it) | {statistics.median(builds):.0f} ms | {max(builds):.0f} ms |",
        f"| **our overhead** (the difference; target < 300 ms) | **{statistics.median(over):.0f} ms** | **{max(over):.0f} ms** |",
        "", END])
    print(block)
    if not args.no_write:
        doc = ROOT / "docs/performance.md"
        text = doc.read_text()
        start, end = text.index(START), text.index(END) + len(END)
        doc.write_text(text[:start] + block + text[end:])
        print("written into docs/performance.md")


if __name__ == "__main__":
    main()
