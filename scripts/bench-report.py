#!/usr/bin/env python3
"""Summarises one scripts/bench scenario: latency percentiles from h2load's --log-file, gRPC
status codes from the serving processes' /metrics (before and after), and CPU per request
from /proc (utime + stime of each process, before and after).

Usage: bench-report.py snapshot STATE_DIR HTTP_PORTS... > FILE
       bench-report.py report BEFORE AFTER H2LOAD_LOG METHOD REQUESTS
"""
import json
import os
import re
import sys
import urllib.request

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def postgres_cpu(state: str) -> float:
    """CPU of the embedded cluster: the postmaster and all its children."""
    try:
        with open(os.path.join(state, "pg-data")) as f:
            data = f.read().strip()
        with open(os.path.join(data, "postmaster.pid")) as f:
            postmaster = int(f.readline())
    except OSError:
        return 0.0
    total = cpu_seconds(postmaster)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == postmaster:
                        total += cpu_seconds(int(entry))
            except OSError:
                pass
    return total


def snapshot(state: str, ports: list[str]) -> dict:
    result = {"cpu": {}, "codes": {}}
    for name in ("gateway", "chat", "tickets", "logistics", "feedback"):
        try:
            with open(os.path.join(state, "pids", f"{name}.pid")) as f:
                result["cpu"][name] = cpu_seconds(int(f.read().strip()))
        except OSError:
            pass
    result["cpu"]["postgres"] = postgres_cpu(state)
    for port in ports:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        for line in text.splitlines():
            match = re.match(r'grpc_server_handled_total\{(.*)\} ([0-9.e+]+)', line)
            if match:
                labels = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1)))
                key = f'{port}|{labels.get("method")}|{labels.get("code")}'
                result["codes"][key] = float(match.group(2))
    return result


def report(before_file: str, after_file: str, log: str, method: str, requests: int) -> None:
    before, after = json.load(open(before_file)), json.load(open(after_file))
    durations = sorted(int(line.split("\t")[2]) for line in open(log) if line.strip())
    def pct(p: float) -> float:
        return durations[min(len(durations) - 1, int(p * len(durations)))] / 1000 if durations else 0.0
    codes = {}
    for key, value in after["codes"].items():
        port, m, code = key.split("|")
        if m == method:
            codes.setdefault(port, {})[code] = int(value - before["codes"].get(key, 0))
    cpu = {name: (after["cpu"][name] - before["cpu"].get(name, 0)) * 1000 / max(requests, 1) for name in after["cpu"]}
    print(f"   latency ms: p50 {pct(0.50):.2f}  p90 {pct(0.90):.2f}  p99 {pct(0.99):.2f}  max {pct(1.0):.2f}")
    print("   gRPC codes by serving port: " + "; ".join(f"{port}: {c}" for port, c in sorted(codes.items())))
    print("   CPU ms per request: " + ", ".join(f"{name} {value:.3f}" for name, value in cpu.items() if value > 0.0005))


if __name__ == "__main__":
    if sys.argv[1] == "snapshot":
        json.dump(snapshot(sys.argv[2], sys.argv[3:]), sys.stdout)
    else:
        report(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6]))
