#!/usr/bin/env python3
"""Measurements for bench/ssh-gateway.sh. Each subcommand runs one `ssh` command line (after `--`) once and prints
its samples, one per line, so that the shell script can interleave the three paths and pool the samples.

  measure.py setup -- SSH...              seconds from spawning ssh to its exit (remote command: `true`)
  measure.py download --bytes N -- SSH... MiB/s from the first byte received to EOF (remote command writes N bytes)
  measure.py upload --bytes N [--file F] -- SSH...
                                          MiB/s from the remote's ready mark to the remote byte count (remote
                                          command: `printf R; exec wc -c`); the payload is zeros or the file F
  measure.py rtt --count N --warmup W -- SSH...
                                          seconds per one-byte round trip through a remote `cat` on a raw pty
                                          (remote command: `stty raw -echo; printf R; exec cat`; ssh -tt); ends
                                          by terminating ssh
  measure.py mem PID                      "RSS_KiB PSS_KiB PROCESSES" of PID and all its descendants
  measure.py cpu-watch PID READY_FILE     until SIGTERM, the CPU time of PID and its descendants, sampled every
                                          50 ms (READY_FILE is created after the first sample); then prints the
                                          CPU seconds they used, missing at most the last 50 ms of each process
  measure.py stats FILE                   "median p10 p90 min max n" of the numbers in FILE
  measure.py free-ports N                 N distinct free TCP ports on 127.0.0.1
"""

import argparse
import os
import select
import signal
import socket
import statistics
import subprocess
import sys
import time

CHUNK = 1 << 20
MIB = float(1 << 20)
READY = b"R"


def fail(message):
    print(f"measure.py: {message}", file=sys.stderr)
    sys.exit(1)


def finish(proc, what):
    """Waits for ssh to exit and fails with its stderr unless it exited 0."""
    try:
        code = proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        fail(f"{what}: ssh did not exit within 120 s")
    if code != 0:
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        fail(f"{what}: ssh exited with {code}: {err.strip()}")


def read_exactly(fd, count, deadline, what):
    """Reads exactly `count` bytes from fd before `deadline` (monotonic)."""
    data = b""
    while len(data) < count:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            fail(f"{what}: timed out waiting for output (got {data!r})")
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            continue
        chunk = os.read(fd, count - len(data))
        if not chunk:
            fail(f"{what}: output ended early (got {data!r})")
        data += chunk
    return data


def spawn(argv, stdin=subprocess.PIPE):
    return subprocess.Popen(argv, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)


def cmd_setup(args):
    started = time.monotonic()
    proc = spawn(args.ssh, stdin=subprocess.DEVNULL)
    proc.stdout.read()
    finish(proc, "setup")
    print(f"{time.monotonic() - started:.6f}")


def cmd_download(args):
    proc = spawn(args.ssh, stdin=subprocess.DEVNULL)
    fd = proc.stdout.fileno()
    first = os.read(fd, CHUNK)
    if not first:
        finish(proc, "download")
        fail("download: no output")
    started = time.monotonic()
    received = len(first)
    counted = 0
    while True:
        chunk = os.read(fd, CHUNK)
        if not chunk:
            break
        counted += len(chunk)
    elapsed = time.monotonic() - started
    finish(proc, "download")
    received += counted
    if received != args.bytes:
        fail(f"download: received {received} bytes, expected {args.bytes}")
    print(f"{counted / MIB / elapsed:.3f}")


def cmd_upload(args):
    if args.file:
        with open(args.file, "rb") as source:
            payload = source.read()
        if len(payload) != args.bytes:
            fail(f"upload: {args.file} has {len(payload)} bytes, expected {args.bytes}")
        view = memoryview(payload)
    else:
        view = None
        zeros = memoryview(bytes(CHUNK))
    proc = spawn(args.ssh)
    out = proc.stdout.fileno()
    read_exactly(out, len(READY), time.monotonic() + 120, "upload")
    started = time.monotonic()
    stdin = proc.stdin.fileno()
    sent = 0
    while sent < args.bytes:
        size = min(CHUNK, args.bytes - sent)
        block = view[sent : sent + size] if view is not None else zeros[:size]
        sent += os.write(stdin, block)
    proc.stdin.close()
    counted = proc.stdout.read()
    elapsed = time.monotonic() - started
    finish(proc, "upload")
    if counted.strip() != str(args.bytes).encode():
        fail(f"upload: the remote counted {counted!r}, expected {args.bytes}")
    print(f"{args.bytes / MIB / elapsed:.3f}")


def cmd_rtt(args):
    proc = spawn(args.ssh)
    out = proc.stdout.fileno()
    stdin = proc.stdin.fileno()
    read_exactly(out, len(READY), time.monotonic() + 120, "rtt")
    samples = []
    for index in range(args.warmup + args.count):
        byte = bytes([ord("a") + index % 26])
        started = time.monotonic()
        os.write(stdin, byte)
        echoed = read_exactly(out, 1, started + 10, "rtt")
        elapsed = time.monotonic() - started
        if echoed != byte:
            fail(f"rtt: sent {byte!r}, got {echoed!r}")
        if index >= args.warmup:
            samples.append(elapsed)
    # `cat` on a raw pty never sees the end of its input: ending ssh hangs the pty up, which ends `cat`.
    proc.terminate()
    proc.wait()
    for sample in samples:
        print(f"{sample:.7f}")


def children_map():
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    return children


def cmd_mem(args):
    rss = pss = processes = 0
    for pid in descendants(args.pid):
        try:
            with open(f"/proc/{pid}/smaps_rollup") as rollup:
                values = dict(line.split(":", 1) for line in rollup if line[0].isupper() and ":" in line)
        except OSError:
            continue
        rss += int(values["Rss"].split()[0])
        pss += int(values["Pss"].split()[0])
        processes += 1
    print(rss, pss, processes)


def descendants(pid):
    children = children_map()
    pending, seen = [pid], []
    while pending:
        pid = pending.pop()
        seen.append(pid)
        pending.extend(children.get(pid, []))
    return seen


def own_ticks(pid):
    """utime + stime of the process itself (fields 14 and 15 of proc_pid_stat(5)), not of its children: a waited-for
    child's time moves into its parent's cutime, but sshd's privileged monitor does not always wait for its child."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    return int(fields[11]) + int(fields[12])


def cmd_cpu_watch(args):
    stopping = False

    def stop(_signal, _frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    start, last = {}, {}
    first = True
    while True:
        for pid in descendants(args.pid):
            ticks = own_ticks(pid)
            if ticks is None:
                continue
            if pid not in last:
                start[pid] = ticks if first else 0
            last[pid] = ticks
        if first:
            open(args.ready_file, "w").close()
            first = False
        if stopping:
            break
        time.sleep(0.05)
    used = sum(last[pid] - start[pid] for pid in last)
    print(f"{used / os.sysconf('SC_CLK_TCK'):.2f}")


def cmd_stats(args):
    with open(args.file) as numbers:
        values = sorted(float(line) for line in numbers if line.strip())
    if not values:
        fail(f"stats: no numbers in {args.file}")

    def quantile(q):
        return values[min(len(values) - 1, int(q * len(values)))]

    print(statistics.median(values), quantile(0.1), quantile(0.9), values[0], values[-1], len(values))


def cmd_free_ports(args):
    sockets = []
    for _ in range(args.count):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sockets.append(sock)
    print(" ".join(str(sock.getsockname()[1]) for sock in sockets))
    for sock in sockets:
        sock.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, handler in (("setup", cmd_setup), ("download", cmd_download), ("upload", cmd_upload)):
        command = sub.add_parser(name)
        command.set_defaults(handler=handler)
        if name != "setup":
            command.add_argument("--bytes", type=int, required=True)
        if name == "upload":
            command.add_argument("--file")
        command.add_argument("ssh", nargs="+")
    rtt = sub.add_parser("rtt")
    rtt.set_defaults(handler=cmd_rtt)
    rtt.add_argument("--count", type=int, default=200)
    rtt.add_argument("--warmup", type=int, default=20)
    rtt.add_argument("ssh", nargs="+")
    mem = sub.add_parser("mem")
    mem.set_defaults(handler=cmd_mem)
    mem.add_argument("pid", type=int)
    cpu = sub.add_parser("cpu-watch")
    cpu.set_defaults(handler=cmd_cpu_watch)
    cpu.add_argument("pid", type=int)
    cpu.add_argument("ready_file")
    stats = sub.add_parser("stats")
    stats.set_defaults(handler=cmd_stats)
    stats.add_argument("file")
    ports = sub.add_parser("free-ports")
    ports.set_defaults(handler=cmd_free_ports)
    ports.add_argument("count", type=int)
    args = parser.parse_args()
    args.handler(args)


if __name__ == "__main__":
    main()
