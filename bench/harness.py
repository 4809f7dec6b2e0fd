"""Runs bench jobs in child processes and measures them: wall time per repeat (reported by
the child), peak RSS (VmHWM), peak anonymous memory (RssAnon sampled every 10 ms) and the
share of the CPUs other processes used meanwhile."""
import json
import os
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def machine_load():
    """The 1-minute load average: a quiet 2-core machine reads well under 0.5."""
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def _status(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _busy_seconds():
    """CPU seconds all processes have spent on every core since boot."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run(**args):
    """Runs job.py with `args`; returns its report plus peak_rss and peak_anon in bytes and
    `foreign`, the share of all CPUs that other processes used while it ran."""
    busy0, own0, t0 = _busy_seconds(), _children_cpu(), time.perf_counter()
    p = subprocess.Popen([sys.executable, os.path.join(HERE, "job.py"), json.dumps(args)], stdout=subprocess.PIPE, text=True)
    peak_rss = peak_anon = 0
    while p.poll() is None:
        peak_anon = max(peak_anon, _status(p.pid, "RssAnon"))
        peak_rss = max(peak_rss, _status(p.pid, "VmHWM"))
        time.sleep(0.01)
    out, _ = p.communicate()
    if p.returncode != 0:
        raise RuntimeError(f"bench job {args} failed ({p.returncode})")
    foreign = (_busy_seconds() - busy0 - (_children_cpu() - own0)) / ((time.perf_counter() - t0) * os.cpu_count())
    report = json.loads(out.strip().splitlines()[-1])
    report.update(peak_rss=peak_rss, peak_anon=peak_anon, foreign=max(0.0, foreign))
    if "times" in report:
        report["best"] = min(report["times"])
    return report


def check_quiet(limit=0.5):
    """A warning line if the machine is busy (results then are marked), else None."""
    load = machine_load()
    if load > limit:
        return f"WARNING: load average {load:.2f} > {limit}: other processes share the CPUs; ratios are unreliable"
    return None
