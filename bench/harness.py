"""Bench jobs in child processes (job.py), each loaded once and run on request, so the runs of
several implementations can be interleaved, each keeping its own memory. Measured: wall time
per run (timed by the child), peak RSS (VmHWM), peak anonymous memory (RssAnon, sampled every
10 ms while the parent waits on the job) and the share of the CPUs other processes used during
its runs."""
import json
import os
import select
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TICK = os.sysconf("SC_CLK_TCK")


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
    """CPU seconds all processes have spent on every core since boot, with the time the host
    gave other virtual machines (steal)."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / TICK


def _cpu_seconds(pid):
    """User and system CPU seconds of a live process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


class Job:
    """job.py with `args` (job, impl, model, size, threads, low_memory), loaded and ready.
    `popen` passes on to subprocess.Popen (env, preexec_fn)."""

    def __init__(self, popen=None, **args):
        self.args = args
        self.p = subprocess.Popen([sys.executable, os.path.join(HERE, "job.py"), json.dumps(args)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, **(popen or {}))
        self.peak_rss = self.peak_anon = 0
        self.foreign = self.wall = 0.0  # other processes' CPU seconds and wall seconds in runs
        self._pending = b""
        self.receive()

    def send(self, command):
        self.p.stdin.write(command.encode() + b"\n")
        self.p.stdin.flush()

    def receive(self):
        """The child's next JSON line (other output is passed over), sampling its memory
        while waiting."""
        fd = self.p.stdout.fileno()
        while True:
            line, newline, rest = self._pending.partition(b"\n")
            if newline:
                self._pending = rest
                if line.startswith(b"{"):
                    return json.loads(line)
                continue
            ready, _, _ = select.select([fd], [], [], 0.01)
            self.peak_anon = max(self.peak_anon, _status(self.p.pid, "RssAnon"))
            self.peak_rss = max(self.peak_rss, _status(self.p.pid, "VmHWM"))
            if ready:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    raise RuntimeError(f"bench job {self.args} failed ({self.p.wait()})")
                self._pending += chunk

    def run(self):
        """One run: the child's report (seconds, or FLOPs)."""
        busy, own, t = _busy_seconds(), _cpu_seconds(self.p.pid), time.perf_counter()
        self.send("run")
        report = self.receive()
        self.wall += time.perf_counter() - t
        self.foreign += _busy_seconds() - busy - (_cpu_seconds(self.p.pid) - own)
        return report

    def close(self, output=None):
        """Saves the last run's output to `output` (a .npy path) if given and ends the child;
        returns peak_rss and peak_anon in bytes and `foreign`, the share of all CPUs other
        processes used during its runs."""
        if output:
            self.send(f"save {output}")
            self.receive()
        self.p.stdin.close()
        if self.p.wait() != 0:
            raise RuntimeError(f"bench job {self.args} failed ({self.p.returncode})")
        share = self.foreign / (self.wall * os.cpu_count()) if self.wall else 0.0
        return dict(peak_rss=self.peak_rss, peak_anon=self.peak_anon, foreign=max(0.0, share))


def run(output=None, repeats=1, warmups=1, **args):
    """One job alone: `warmups` unmeasured runs, then `repeats` timed ones; returns `times`,
    `best` and close()'s report."""
    job = Job(**args)
    for _ in range(warmups):
        job.run()
    times = [job.run()["time"] for _ in range(repeats)]
    return dict(times=times, best=min(times), **job.close(output))


def flops(**args):
    """The FLOPs of the diffusers job, counted by torch."""
    job = Job(impl="flops", **args)
    n = job.run()["flops"]
    job.close()
    return n


def check_quiet(limit=0.5):
    """A warning line if the machine is busy (results then are marked), else None."""
    load = machine_load()
    if load > limit:
        return f"WARNING: load average {load:.2f} > {limit}: other processes share the CPUs; ratios are unreliable"
    return None
