#!/usr/bin/env python3
"""Helpers for bench/run.sh (`make bench`). Standard library only.

Subcommands (each prints or writes JSON; run.sh turns it into summary rows):
  timeloop   --runs N --warmup W --json OUT -- CMD...   fallback when hyperfine is missing;
                                                        writes hyperfine's JSON shape
  stats      JSON                                       median/p90/mean/min/max of a hyperfine JSON
  sim        --sim BIN --runs N --json OUT              lanyard-sim start-up (exec -> endpoint
                                                        line) and shutdown (SIGTERM -> exit)
  cputime    --pid PID --secs S                         CPU time of a process tree over S seconds
  desktop    --app BIN --cli BIN ... --json OUT         desktop app start-up, memory and idle CPU;
                                                        run it under `xvfb-run -a` and a session bus
  rows       SECTION ...                                append summary rows for a section
  table      ROWS.tsv                                   the summary table

Nothing here asserts on time: it measures and prints.
"""

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- statistics


def percentile(values, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def summarize(values):
    return {
        "n": len(values),
        "median": statistics.median(values),
        "p90": percentile(values, 90),
        "mean": statistics.fmean(values),
        "min": min(values),
        "max": max(values),
        "stdev": statistics.pstdev(values) if len(values) > 1 else 0.0,
    }


def cmd_stats(args):
    with open(args.json) as f:
        data = json.load(f)
    times = data["results"][0]["times"]
    print(json.dumps(summarize([t * 1000.0 for t in times])))


# ---------------------------------------------------------------- timing loop (no hyperfine)


def cmd_timeloop(args):
    cmd = args.cmd[1:] if args.cmd and args.cmd[0] == "--" else args.cmd
    times = []
    for i in range(args.warmup + args.runs):
        t0 = time.perf_counter()
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        dt = time.perf_counter() - t0
        if r.returncode != 0:
            sys.exit(f"timeloop: {cmd!r} exited with {r.returncode}")
        if i >= args.warmup:
            times.append(dt)
    s = summarize(times)
    out = {"results": [{"command": " ".join(cmd), "times": times, "mean": s["mean"],
                        "median": s["median"], "tool": "bench.py timeloop"}]}
    with open(args.json, "w") as f:
        json.dump(out, f)


# ---------------------------------------------------------------- /proc helpers


def proc_stat(pid):
    """(ppid, pgid, utime+stime ticks, comm) or None if gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            raw = f.read()
    except OSError:
        return None
    comm = raw[raw.index("(") + 1: raw.rindex(")")]
    rest = raw[raw.rindex(")") + 2:].split()
    # rest[0] is field 3 (state); utime is field 14 -> rest[11]
    ppid, pgid = int(rest[1]), int(rest[2])
    ticks = int(rest[11]) + int(rest[12])
    return ppid, pgid, ticks, comm


def all_pids():
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def tree(root):
    """root and all its descendants that are alive now."""
    children = {}
    for pid in all_pids():
        st = proc_stat(pid)
        if st:
            children.setdefault(st[0], []).append(pid)
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        if proc_stat(p) is None:
            continue
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def process_name(pid):
    """argv[0]'s basename (comm is cut at 15 characters: WebKitWebProces)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            name = os.path.basename(f.read().split(b"\0")[0].decode())
            if name:
                return name
    except OSError:
        pass
    st = proc_stat(pid)
    return st[3] if st else "?"


def pss_kb(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def cpu_ticks(pids):
    total = {}
    for p in pids:
        st = proc_stat(p)
        if st:
            total[p] = st[2]
    return total


def measure_cpu(root, secs):
    """CPU time (all processes of root's tree, including any that start meanwhile) over secs."""
    before = cpu_ticks(tree(root))
    t0 = time.monotonic()
    seen = dict(before)
    deadline = t0 + secs
    while True:
        # Re-sample every second so processes that appear (or die) meanwhile are counted up to
        # their last sample.
        now = time.monotonic()
        if now >= deadline:
            break
        time.sleep(min(1.0, deadline - now))
        for p, t in cpu_ticks(tree(root)).items():
            seen[p] = t
    wall = time.monotonic() - t0
    used = sum(seen[p] - before.get(p, 0) for p in seen)
    by_name = {}
    for p in seen:
        name = process_name(p)
        by_name[name] = by_name.get(name, 0.0) + (seen[p] - before.get(p, 0)) / CLK_TCK
    return {"cpu_s": used / CLK_TCK, "wall_s": wall,
            "pct_of_one_core": 100.0 * used / CLK_TCK / wall, "processes": len(seen),
            "cpu_s_by_process": by_name}


def cmd_cputime(args):
    print(json.dumps(measure_cpu(args.pid, args.secs)))


# ---------------------------------------------------------------- simulator start-up


def cmd_sim(args):
    startup, shutdown = [], []
    for i in range(args.warmup + args.runs):
        t0 = time.perf_counter()
        p = subprocess.Popen([args.sim], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             start_new_session=True)
        try:
            line = p.stdout.readline()
            t1 = time.perf_counter()
            endpoints = json.loads(line)
            if "sscms" not in endpoints:
                sys.exit(f"sim: unexpected endpoint line {line!r}")
            t2 = time.perf_counter()
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=30)
            t3 = time.perf_counter()
        finally:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        if i >= args.warmup:
            startup.append((t1 - t0) * 1000.0)
            shutdown.append((t3 - t2) * 1000.0)
    out = {"startup_ms": summarize(startup), "shutdown_ms": summarize(shutdown)}
    with open(args.json, "w") as f:
        json.dump(out, f, indent=1)
    print(json.dumps(out))


# ---------------------------------------------------------------- desktop app


def log(msg):
    print(f"[desktop] {msg}", file=sys.stderr, flush=True)


def visible_window(name):
    r = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", f"^{name}$"],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return r.returncode == 0 and r.stdout.strip() != ""


def wait_gone(pids, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(proc_stat(p) is None for p in pids):
            return True
        time.sleep(0.05)
    return all(proc_stat(p) is None for p in pids)


class App:
    """One launch of the desktop app in its own process group, with its data dir."""

    def __init__(self, app, data_dir, env, logfile):
        self.app, self.data_dir = app, data_dir
        self.env = dict(env, LANYARD_DATA_DIR=data_dir)
        self.logfile = logfile
        self.proc = None

    def start_and_wait_mapped(self, title, timeout=60.0):
        t0 = time.perf_counter()
        self.proc = subprocess.Popen([self.app], env=self.env, stdin=subprocess.DEVNULL,
                                     stdout=self.logfile, stderr=self.logfile,
                                     start_new_session=True)
        while True:
            if visible_window(title):
                return (time.perf_counter() - t0) * 1000.0
            if self.proc.poll() is not None:
                raise RuntimeError(f"the app exited with {self.proc.returncode} before its "
                                   f"window was mapped (see {self.logfile.name})")
            if time.perf_counter() - t0 > timeout:
                raise RuntimeError(f"no visible window named {title!r} within {timeout} s")
            time.sleep(0.002)

    def processes(self):
        out = []
        for p in tree(self.proc.pid):
            out.append({"pid": p, "comm": process_name(p), "pss_kb": pss_kb(p)})
        return out

    def opened_data_dir(self):
        for p in tree(self.proc.pid):
            try:
                for fd in os.listdir(f"/proc/{p}/fd"):
                    try:
                        if os.readlink(f"/proc/{p}/fd/{fd}").startswith(self.data_dir):
                            return True
                    except OSError:
                        pass
            except OSError:
                pass
        return False

    def stop(self):
        if self.proc is None:
            return
        pids = tree(self.proc.pid)
        for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            for p in pids:  # children that left the process group, if any
                try:
                    os.kill(p, sig)
                except ProcessLookupError:
                    pass
            if wait_gone(pids, grace) and self.proc.poll() is not None:
                break
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self.proc = None


def make_accounts(cli, template, count, endpoints, env):
    """`count` signed-out accounts spread over the five services, with `lanyard add --no-login`."""
    coolkit = endpoints["coolkit"]
    per = {
        "sscms": lambda i: ["--user", f"bench{i:03d}", "--endpoint", endpoints["sscms"]],
        "steedos": lambda i: ["--user", f"bench{i:03d}@example.com", "--endpoint",
                              endpoints["steedos"], "--opt", "space_id=demo-space"],
        "coolkit": lambda i: ["--user", f"bench{i:03d}@example.com", "--endpoint", coolkit,
                              "--opt", "appid=LanyardDemoAppId0000000000000001",
                              "--opt", "appsecret=LanyardDemoAppSecret000000000001",
                              "--opt", "region=us"],
        "siyuan": lambda i: ["--user", f"bench{i:03d}", "--endpoint", endpoints["siyuan"],
                             "--opt", "api_token=lanyarddemotoken"],
        "shopxo": lambda i: ["--user", f"bench{i:03d}", "--endpoint", endpoints["shopxo"]],
    }
    services = list(per)
    t0 = time.perf_counter()
    for i in range(count):
        svc = services[i % len(services)]
        cmd = [cli, "--data-dir", template, "add", svc, *per[svc](i), "--no-login"]
        r = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()}")
    r = subprocess.run([cli, "--data-dir", template, "list", "--json"], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=True)
    n = len(json.loads(r.stdout))
    if n != count:
        raise RuntimeError(f"expected {count} accounts in the template, `lanyard list` shows {n}")
    return time.perf_counter() - t0


def cmd_desktop(args):
    env = dict(os.environ)
    env.setdefault("LANYARD_SECRET_STORE", "keyring")
    work = tempfile.mkdtemp(prefix="lanyard-bench-desktop.")
    logpath = os.path.join(args.logdir, "desktop-app.log")
    result = {"secret_store": env["LANYARD_SECRET_STORE"], "display": env.get("DISPLAY")}
    app = None
    try:
        with open(logpath, "w") as logfile:
            def fresh_dir(tag, template=None):
                d = os.path.join(work, tag)
                if template:
                    shutil.copytree(template, d)
                else:
                    os.makedirs(d)
                return d

            failed = []

            def launch(tag, template=None):
                # A launch that dies before mapping its window is logged, counted and tried once
                # more (in a new data dir); a second failure ends the run.
                nonlocal app
                for attempt in (1, 2):
                    d = fresh_dir(f"{tag}-{attempt}", template)
                    app = App(args.app, d, env, logfile)
                    logfile.write(f"--- launch {tag} (attempt {attempt})\n")
                    logfile.flush()
                    try:
                        return app, app.start_and_wait_mapped(args.title)
                    except RuntimeError as e:
                        app.stop()
                        failed.append(f"{tag}: {e}")
                        log(f"launch {tag} failed: {e}")
                        if attempt == 2:
                            raise

            # Start-up: warm-up launches are discarded (cold page cache after a build).
            times = []
            for i in range(args.warmup + args.launches):
                a, ms = launch(f"startup-{i}")
                time.sleep(args.settle)
                a.stop()
                log(f"launch {i}: window mapped after {ms:.0f} ms"
                    + (" (warm-up, discarded)" if i < args.warmup else ""))
                if i >= args.warmup:
                    times.append(ms)
            result["failed_launches"] = failed
            result["startup_ms"] = summarize(times)
            result["startup_ms"]["all"] = times

            # Memory with 0 accounts.
            a, ms = launch("mem-0")
            time.sleep(args.idle)
            procs = a.processes()
            result["mem_0"] = {"pss_kb": sum(p["pss_kb"] or 0 for p in procs),
                               "processes": procs, "mapped_ms": ms}
            a.stop()
            log(f"0 accounts: PSS {result['mem_0']['pss_kb'] / 1024:.1f} MiB over {len(procs)} processes")

            # 200 accounts: created once with the CLI, copied per launch.
            template = os.path.join(work, "template-accounts")
            endpoints = json.loads(args.endpoints)
            secs = make_accounts(args.cli, template, args.accounts, endpoints, env)
            result["accounts"] = {"count": args.accounts, "created_in_s": secs,
                                  "how": "lanyard add --no-login (signed out, no sessions)"}
            log(f"created {args.accounts} accounts with the CLI in {secs:.1f} s")
            a, ms = launch(f"mem-{args.accounts}", template)
            time.sleep(args.idle)
            procs = a.processes()
            result["mem_n"] = {"pss_kb": sum(p["pss_kb"] or 0 for p in procs),
                               "processes": procs, "mapped_ms": ms,
                               "app_opened_data_dir": a.opened_data_dir()}
            log(f"{args.accounts} accounts: PSS {result['mem_n']['pss_kb'] / 1024:.1f} MiB over "
                f"{len(procs)} processes; data dir opened by the app: "
                f"{result['mem_n']['app_opened_data_dir']}")
            if args.cpu_secs > 0:
                log(f"idle CPU over {args.cpu_secs} s ...")
                result["idle_cpu"] = measure_cpu(a.proc.pid, args.cpu_secs)
                log(f"idle CPU: {result['idle_cpu']['pct_of_one_core']:.2f} % of one core")
            a.stop()
            app = None
            result["failed_launches"] = failed
    finally:
        if app is not None:
            app.stop()
        shutil.rmtree(work, ignore_errors=True)
    with open(args.json, "w") as f:
        json.dump(result, f, indent=1)



# ---------------------------------------------------------------- summary rows


def fmt_ms(v):
    return f"{v:.1f} ms" if v < 100 else f"{v:.0f} ms"


def fmt_stats(s):
    return f"median {fmt_ms(s['median'])}, p90 {fmt_ms(s['p90'])}, mean {fmt_ms(s['mean'])}"


def emit(rows_file, figure, value, conditions):
    with open(rows_file, "a") as f:
        f.write(f"{figure}\t{value}\t{conditions}\n")


def load_stats(path):
    with open(path) as f:
        data = json.load(f)
    return summarize([t * 1000.0 for t in data["results"][0]["times"]])


def rows_cli(a):
    timer = ("hyperfine -N (no shell)" if a.timer == "hyperfine"
             else "bench.py timing loop (hyperfine missing)")
    runs = f"{a.runs} runs after {a.warmup} warm-up, {timer}"
    tok = load_stats(os.path.join(a.out, "cli-token.json"))
    floor = load_stats(os.path.join(a.out, "secret-tool-lookup.json"))
    ver = load_stats(os.path.join(a.out, "cli-version.json"))
    with open(os.path.join(a.out, "cli-token.server-requests")) as f:
        requests = f.read().strip()
    emit(a.rows, "CLI: lanyard token sscms", fmt_stats(tok),
         f"release lanyard; valid SSCMS v6 session (lanyard-sim, loopback) read from gnome-keyring "
         f"(LANYARD_SECRET_STORE=keyring, dbus-run-session); {requests} server requests during "
         f"the runs; {runs}; load {a.load}")
    emit(a.rows, "CLI floor: secret-tool lookup", fmt_stats(floor),
         f"the same session item, same keyring, same timer; {runs}; earlier reference measurement: "
         f"14 ms mean")
    emit(a.rows, "CLI: token vs floor",
         f"{tok['median'] / floor['median']:.2f}x median ({tok['median'] - floor['median']:+.1f} ms)",
         "lanyard token sscms median / secret-tool lookup median")
    emit(a.rows, "CLI: lanyard --version", fmt_stats(ver),
         f"process start + argument parsing only (no store, no keyring); {runs}")
    if os.path.exists(os.path.join(a.out, "cli-api.json")):
        api = load_stats(os.path.join(a.out, "cli-api.json"))
        curl = load_stats(os.path.join(a.out, "curl-api.json"))
        with open(os.path.join(a.out, "cli-api.server-requests")) as f:
            served = f.read().strip()
        with open(os.path.join(a.out, "cli-api.calls")) as f:
            calls = f.read().strip()
        emit(a.rows, "CLI: lanyard api sscms /api/v1/users/1", fmt_stats(api),
             f"valid session from gnome-keyring, one GET to lanyard-sim (loopback); {served} "
             f"server requests for {calls} calls; {runs}; load {a.load}")
        emit(a.rows, "CLI floor: curl, same header, same route", fmt_stats(curl),
             f"curl -H @file (the header lanyard token --as header prints); {runs}")
        emit(a.rows, "CLI: api vs curl",
             f"{api['median'] / curl['median']:.2f}x median ({api['median'] - curl['median']:+.1f} ms)",
             "lanyard api median / curl median (issue 13: below 1.5x)")


def rows_sim(a):
    with open(os.path.join(a.out, "sim-startup.json")) as f:
        st = json.load(f)
    s, d = st["startup_ms"], st["shutdown_ms"]
    emit(a.rows, "Sim: start-up (exec -> endpoint line)", fmt_stats(s),
         f"release lanyard-sim, all 5 simulators, ephemeral ports; {s['n']} runs after 2 "
         f"warm-up; load {a.load_startup}")
    emit(a.rows, "Sim: shutdown (SIGTERM -> exit)", fmt_stats(d),
         f"same runs, no open connections")
    with open(os.path.join(a.out, "login-load.txt")) as f:
        line = f.read().strip().splitlines()[-1]
    import re
    m = re.search(r"(\d+) ok, (\d+) errors in ([\d.]+) s, concurrency (\d+) => (\d+) logins/s; "
                  r"latency p50 ([\d.]+) ms, p99 ([\d.]+) ms", line)
    with open(os.path.join(a.out, "login-load-sim-cpu.json")) as f:
        cpu = json.load(f)
    if not m:
        emit(a.rows, "Sim: SSCMS logins/s", "unparsed", line)
        return
    ok, err, secs, conc, rate, p50, p99 = m.groups()
    emit(a.rows, "Sim: SSCMS v6 logins/s", f"{rate}/s (p50 {p50} ms, p99 {p99} ms)",
         f"{ok} ok / {err} errors in {secs} s, concurrency {conc}, keep-alive connections, "
         f"loopback; release lanyard-sim (separate process) + release login_load example "
         f"(reqwest) on the same {os.cpu_count()} cores; sim used "
         f"{cpu['pct_of_one_core']:.0f}% of one core; load {a.load_load}")


def rows_desktop(a):
    with open(os.path.join(a.out, "desktop.json")) as f:
        d = json.load(f)
    st = d["startup_ms"]
    store = d["secret_store"]
    env = (f"release lanyard-desktop (custom-protocol); xvfb-run -a, 1280x1024x24, dbus-run-session + "
           f"gnome-keyring, LANYARD_SECRET_STORE={store}, fresh LANYARD_DATA_DIR per launch")
    failed = d.get("failed_launches", [])
    failed_note = (f"; {len(failed)} launch(es) died before mapping and were retried "
                   f"(desktop-app.log)" if failed else "")
    emit(a.rows, "App: start-up (exec -> window mapped)",
         f"median {fmt_ms(st['median'])} (min {fmt_ms(st['min'])}, max {fmt_ms(st['max'])})",
         f"{st['n']} launches after 1 warm-up{failed_note}, 0 accounts, polled with xdotool search "
         f"--onlyvisible every ~2 ms (+ poll cost, a few ms); {env}; load {a.load}; "
         f"reference: minimal Tauri 2 app 141-224 ms")

    def procs(m):
        by = {}
        for p in m["processes"]:
            by.setdefault(p["comm"], 0)
            by[p["comm"]] += (p["pss_kb"] or 0)
        return ", ".join(f"{k} {v / 1024:.0f}" for k, v in sorted(by.items(), key=lambda kv: -kv[1]))

    m0, mn = d["mem_0"], d["mem_n"]
    def mem(kb):
        return f"{kb / 1024:.0f} MiB PSS ({kb * 1.024 / 1000:.0f} MB)"

    emit(a.rows, "App: memory, 0 accounts", mem(m0['pss_kb']),
         f"sum of /proc/PID/smaps_rollup Pss over {len(m0['processes'])} processes (MiB: "
         f"{procs(m0)}) after the window was up and idle {a.idle:g} s; reference: ~252 MB "
         f"minimal Tauri 2 app (3 processes)")
    acc = d["accounts"]
    emit(a.rows, f"App: memory, {acc['count']} accounts", mem(mn['pss_kb']),
         f"{acc['count']} accounts made with `{acc['how']}`, 5 services x {acc['count'] // 5}; "
         f"{len(mn['processes'])} processes (MiB: {procs(mn)}); app had a file of the data dir "
         f"open: {'yes' if mn['app_opened_data_dir'] else 'no'}")
    if "idle_cpu" in d:
        c = d["idle_cpu"]
        by = ", ".join(f"{k} {v:.2f} s" for k, v in sorted(c.get("cpu_s_by_process", {}).items(),
                                                          key=lambda kv: -kv[1]))
        emit(a.rows, f"App: idle CPU, {acc['count']} accounts",
             f"{c['pct_of_one_core']:.2f}% of one core",
             f"utime+stime from /proc/PID/stat summed over {c['processes']} processes over "
             f"{c['wall_s']:.0f} s idle (window mapped, no input, accounts signed out); "
             f"{c['cpu_s']:.2f} s CPU in total ({by})")


def rows_keepalive(a):
    import re
    with open(a.file) as f:
        lines = [l.rstrip("\n") for l in f if l.strip()]
    bench = [l.split("\t") for l in lines if l.startswith("BENCH\t")]
    if bench:
        for b in bench:
            b = (b + ["", "", ""])[1:4]
            emit(a.rows, b[0], b[1], f"{b[2]}; release; load {a.load}")
        return
    for l in lines:
        # keepalive_idle.rs: "keepalive idle: N accounts, ... (P % of one core), ..."
        m = re.match(r"keepalive idle: (\d+) accounts.*?([\d.]+) % of one core", l)
        if m:
            emit(a.rows, a.figure, f"{float(m.group(2)):.4f}% of one core",
                 f"examples/keepalive_idle (release), memory secret store, the app's engine "
                 f"settings; it says: {l.split(':', 1)[1].strip()}; load {a.load}")
            return
    emit(a.rows, a.figure, lines[-1] if lines else "no output", f"release example; load {a.load}")


def cmd_rows(a):
    {"cli": rows_cli, "sim": rows_sim, "desktop": rows_desktop,
     "keepalive": rows_keepalive}[a.section](a)


# ---------------------------------------------------------------- summary table


def cmd_table(args):
    rows = []
    with open(args.rows) as f:
        for line in f:
            line = line.rstrip("\n")
            if line:
                rows.append((line.split("\t") + ["", "", ""])[:3])
    head = ("figure", "value", "conditions")
    w0 = max([len(head[0])] + [len(r[0]) for r in rows])
    w1 = max([len(head[1])] + [len(r[1]) for r in rows])
    out = [f"{head[0]:<{w0}}  {head[1]:<{w1}}  {head[2]}",
           f"{'-' * w0}  {'-' * w1}  {'-' * 10}"]
    for r in rows:
        out.append(f"{r[0]:<{w0}}  {r[1]:<{w1}}  {r[2]}")
    print("\n".join(out))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("timeloop")
    p.add_argument("--runs", type=int, default=100)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--json", required=True)
    p.add_argument("cmd", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_timeloop)

    p = sub.add_parser("stats")
    p.add_argument("json")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("sim")
    p.add_argument("--sim", required=True)
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--json", required=True)
    p.set_defaults(func=cmd_sim)

    p = sub.add_parser("cputime")
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--secs", type=float, required=True)
    p.set_defaults(func=cmd_cputime)

    p = sub.add_parser("desktop")
    p.add_argument("--app", required=True)
    p.add_argument("--cli", required=True)
    p.add_argument("--endpoints", required=True, help="lanyard-sim's endpoint JSON line")
    p.add_argument("--title", default="Lanyard")
    p.add_argument("--launches", type=int, default=7)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--settle", type=float, default=0.5,
                   help="seconds the app runs after its window is mapped, before it is stopped")
    p.add_argument("--idle", type=float, default=5.0)
    p.add_argument("--accounts", type=int, default=200)
    p.add_argument("--cpu-secs", type=float, default=60.0)
    p.add_argument("--logdir", required=True)
    p.add_argument("--json", required=True)
    p.set_defaults(func=cmd_desktop)

    p = sub.add_parser("rows")
    p.add_argument("section", choices=["cli", "sim", "desktop", "keepalive"])
    p.add_argument("--out")
    p.add_argument("--file")
    p.add_argument("--figure")
    p.add_argument("--rows", required=True)
    p.add_argument("--timer", default="hyperfine")
    p.add_argument("--runs", type=int, default=0)
    p.add_argument("--warmup", type=int, default=0)
    p.add_argument("--load", default="?")
    p.add_argument("--load-startup", default="?")
    p.add_argument("--load-load", default="?")
    p.add_argument("--idle", type=float, default=5.0)
    p.set_defaults(func=cmd_rows)

    p = sub.add_parser("table")
    p.add_argument("rows")
    p.set_defaults(func=cmd_table)

    args = ap.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
