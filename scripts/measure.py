#!/usr/bin/env python3
"""Runs one command and measures it from the outside, for BENCHMARKS.md:
wall time to the first line the command prints on stdout and to the first
table row (kchat bench prints its header once the model is loaded and its
first row once the first prompt is evaluated: its first token), and to exit, peak anonymous and file-backed resident memory (polled from
/proc/PID/status), and peak GPU memory in use above the idle level (polled
with nvidia-smi). Prints one JSON object.

    measure.py [--cold] [--label L] -- COMMAND ARGS...

--cold drops the page cache first (root only), so the model is read from disk.
"""
import json
import subprocess
import sys
import threading
import time


def gpu_used_mib():
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=5).stdout
        return sum(int(x) for x in out.split())
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None


def status_kib(pid):
    vals = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("RssAnon", "RssFile", "VmHWM"):
                    vals[k] = int(v.split()[0])
    except OSError:
        pass
    return vals


def main():
    args = sys.argv[1:]
    cold = "--cold" in args
    label = ""
    if "--label" in args:
        label = args[args.index("--label") + 1]
    cmd = args[args.index("--") + 1:]
    if cold:
        subprocess.run(["sync"])
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
    gpu0 = gpu_used_mib()
    peak = {"RssAnon": 0, "RssFile": 0, "VmHWM": 0}
    gpu_peak = [0]
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    done = threading.Event()

    def poll_mem():
        while not done.is_set():
            for k, v in status_kib(p.pid).items():
                peak[k] = max(peak[k], v)
            time.sleep(0.02)

    def poll_gpu():
        while not done.is_set():
            g = gpu_used_mib()
            if g is not None:
                gpu_peak[0] = max(gpu_peak[0], g)
            time.sleep(0.2)

    threads = [threading.Thread(target=poll_mem), threading.Thread(target=poll_gpu)]
    for t in threads:
        t.start()
    first_line = first_row = None
    lines = []
    for line in p.stdout:
        now = time.monotonic() - t0
        if first_line is None and line.strip():
            first_line = now
        if first_row is None and line.startswith("|") and "t/s" not in line and "---" not in line:
            first_row = now
        lines.append(line.rstrip("\n"))
    rc = p.wait()
    total = time.monotonic() - t0
    done.set()
    for t in threads:
        t.join()
    print(json.dumps({
        "label": label,
        "cold": cold,
        "rc": rc,
        "first_line_s": round(first_line, 3) if first_line is not None else None,
        "first_row_s": round(first_row, 3) if first_row is not None else None,
        "exit_s": round(total, 3),
        "peak_rss_anon_mib": round(peak["RssAnon"] / 1024),
        "peak_rss_file_mib": round(peak["RssFile"] / 1024),
        "peak_rss_total_mib": round(peak["VmHWM"] / 1024),
        "gpu_used_mib": (gpu_peak[0] - gpu0) if gpu0 is not None else None,
        "stdout_tail": lines[-3:],
    }))


if __name__ == "__main__":
    main()
