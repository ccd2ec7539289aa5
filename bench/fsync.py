#!/usr/bin/env python3
"""What one durable line costs on this disk, alone: a line the size of a
session's revocation line appended and fdatasync'ed, N times, then N lines
written over a file whose blocks were already written (no size change to
commit); the pair twice. Prints the wall time per line (mean, median, p99),
the busy CPU of the whole machine per line (from /proc/stat: the kernel's
flushing threads included, and whatever else runs meanwhile, so run it on
a quiet machine) and this process's own CPU per line. The CPU figures move
in steps of one clock tick (10 ms) over the N lines. A measurement, not a
test.

Usage: bench/fsync.py [folder (/tmp)] [N (3000)]
"""

import os
import sys
import time

# As the file store writes a session's revocation: its id, its end.
LINE = b"0123456789abcdef0123456789abcdef 1796682681000\n"


def busy_jiffies():
    """Busy time of all CPUs so far, in clock ticks: user, nice, system,
    irq and softirq (not idle, iowait, the hypervisor's steal, or guest time,
    which user already counts)."""
    with open("/proc/stat") as stat:
        user, nice, system, _idle, _iowait, irq, softirq = (
            int(x) for x in stat.readline().split()[1:8]
        )
    return user + nice + system + irq + softirq


def run(folder, mode, n):
    path = os.path.join(folder, f"fsync-bench-{os.getpid()}-{mode}")
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        if mode == "overwrite":
            os.write(fd, b"\0" * (len(LINE) * n))
            os.fsync(fd)
            os.lseek(fd, 0, os.SEEK_SET)
        latencies = []
        busy, started, own = busy_jiffies(), time.perf_counter(), os.times()
        for _ in range(n):
            began = time.perf_counter()
            os.write(fd, LINE)
            os.fdatasync(fd)
            latencies.append(time.perf_counter() - began)
        wall = time.perf_counter() - started
        busy = (busy_jiffies() - busy) / os.sysconf("SC_CLK_TCK")
        after = os.times()
        own = (after.user + after.system) - (own.user + own.system)
    finally:
        os.close(fd)
        os.unlink(path)
    latencies.sort()
    us = 1e6 / n
    print(
        f"{mode:9s} {n} lines: {wall * us:6.0f} µs wall each, "
        f"median {latencies[n // 2] * 1e6:5.0f}, p99 {latencies[int(n * 0.99)] * 1e6:5.0f}; "
        f"busy CPU, whole machine {busy * us:6.1f} µs each; this process {own * us:5.1f} µs each"
    )


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else "/tmp"
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 3000
    for mode in ("append", "overwrite", "append", "overwrite"):
        run(folder, mode, n)


if __name__ == "__main__":
    main()
