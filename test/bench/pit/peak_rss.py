#!/usr/bin/env python3
"""Peak private memory of one PostgreSQL backend and its parallel workers.

    peak_rss.py LEADER_PID STOP_FILE

Samples every 20 ms, until STOP_FILE exists, the RssAnon (private,
anonymous memory: palloc'd memory, not shared_buffers, not the dynamic
shared memory the workers share, not the page cache of temp files) of the
backend LEADER_PID and of every "parallel worker for PID LEADER_PID", and
prints two numbers in kB: the peak of their sum, and the peak of the
backend alone.  Used by pit.sh for the growth series (issue 21).
"""
import os
import sys
import time

leader, stop = sys.argv[1], sys.argv[2]
tag = f"parallel worker for PID {leader}"


def rss_anon(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


peak_sum = peak_leader = 0
while not os.path.exists(stop):
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        if pid == leader:
            kb = rss_anon(pid)
            peak_leader = max(peak_leader, kb)
            total += kb
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().decode(errors="replace")
        except OSError:
            continue
        if tag in cmd:
            total += rss_anon(pid)
    peak_sum = max(peak_sum, total)
    time.sleep(0.02)
print(peak_sum, peak_leader)
