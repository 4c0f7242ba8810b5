//! CLI latency: `lanyard token sscms` for a valid session (cached in the kernel session keyring
//! after the first call, and with that cache empty, read from gnome-keyring) against its floor,
//! `secret-tool lookup` of the same item; `lanyard api sscms /api/v1/users/1` against
//! curl sending the same header to the same route; `lanyard --version` for process start.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::stats::{fmt_ratio, fmt_summary, summarize, time_alternately};
use crate::{Bench, SimProcess, procs};

const ROUTE: &str = "/api/v1/users/1";

pub fn run(b: &mut Bench, sim: &SimProcess) {
    eprintln!("\n==> CLI latency (keyring) vs secret-tool lookup, lanyard api vs curl");
    if let Err(e) = measure(b, sim) {
        eprintln!("bench: CLI: {e}");
        b.row("CLI: lanyard token sscms", "not measured", e);
    }
}

/// Runs `cmd` to completion; its stdout, or one line saying why it failed.
fn output(cmd: &mut Command) -> Result<String, String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{:?}: {e}", cmd.get_program()))?;
    if !out.status.success() {
        return Err(format!(
            "{:?} {:?} exited with {}: {}",
            cmd.get_program(),
            cmd.get_args().collect::<Vec<_>>(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn measure(b: &mut Bench, sim: &SimProcess) -> Result<(), String> {
    let data = b.tmp.join("cli-data");
    std::fs::create_dir_all(&data).map_err(|e| e.to_string())?;
    let lanyard_bin = b.bin("lanyard");
    let lanyard = |args: &[&str]| {
        let mut c = Command::new(&lanyard_bin);
        c.args(args)
            .env("LANYARD_DATA_DIR", &data)
            .env("LANYARD_SECRET_STORE", "keyring");
        c
    };
    let sscms = sim.endpoints.sscms.clone();
    let control = sim.control(&sscms);
    let (runs, warmup) = (b.counts.cli_runs, b.counts.cli_warmup);
    let load = procs::loadavg();

    // A real login against the simulator: the session token goes to the keyring.
    let mut add = lanyard(&[
        "add",
        "sscms",
        "--user",
        "demo",
        "--endpoint",
        &sscms,
        "--password-stdin",
    ]);
    let added = procs::output_with_stdin(&mut add, b"demo1234\n")
        .map_err(|e| format!("lanyard add: {e}"))?;
    if !added.status.success() {
        return Err(format!(
            "lanyard add sscms failed: {}",
            String::from_utf8_lossy(&added.stderr).trim()
        ));
    }
    output(&mut lanyard(&["token", "sscms"]))?; // must work before it is timed

    // The item `lanyard token` reads: the shelf holding the account's session (a data dir's
    // secrets share a few items, service=lanyard, username=shelf/<id>/<n>, with the id in the
    // data dir's keyring-shelves file; one secret here, so one shelf). secret-tool prints the
    // attributes on stderr.
    let id = std::fs::read_to_string(data.join("keyring-shelves"))
        .map_err(|e| format!("the data dir's keyring-shelves file: {e}"))?;
    let prefix = format!("shelf/{}/", id.trim());
    let search = Command::new("secret-tool")
        .args(["search", "--all", "service", "lanyard"])
        .output()
        .map_err(|e| format!("secret-tool: {e}"))?;
    let shelves: Vec<String> = String::from_utf8_lossy(&search.stderr)
        .lines()
        .filter_map(|l| l.strip_prefix("attribute.username = "))
        .filter(|k| k.starts_with(&prefix))
        .map(str::to_owned)
        .collect();
    let [key] = shelves.as_slice() else {
        return Err(format!(
            "expected one shelf of the data dir in the keyring, found {shelves:?}"
        ));
    };
    let lookup = || {
        let mut c = Command::new("secret-tool");
        c.args(["lookup", "service", "lanyard", "username", key]);
        c
    };
    output(&mut lookup())?;

    let requests = || {
        b.block(control.stats())
            .map(|s| s.total())
            .map_err(|e| e.to_string())
    };
    let before = requests()?;
    // In a new, empty session keyring each run: the session comes from the Secret Service.
    let uncached = || {
        let inner = lanyard(&["token", "sscms"]);
        let mut c = Command::new("keyctl");
        c.args(["session", "-"])
            .arg(inner.get_program())
            .args(inner.get_args())
            .envs(inner.get_envs().filter_map(|(k, v)| Some((k, v?))))
            .stderr(Stdio::null());
        c
    };
    let times = time_alternately(
        &mut [lanyard(&["token", "sscms"]), lookup(), uncached()],
        warmup,
        runs,
    )?;
    let token_requests = requests()? - before;
    let (token, floor, token_uncached) = (
        summarize(&times[0]),
        summarize(&times[1]),
        summarize(&times[2]),
    );
    let version = summarize(&time_alternately(&mut [lanyard(&["--version"])], warmup, runs)?[0]);

    // `lanyard api` against curl with the same header, which curl reads from a private file
    // (`-H @file`), not its argv.
    let header_file = data.join("header");
    let header = output(&mut lanyard(&["token", "sscms", "--as", "header"]))?;
    write_private(&header_file, &header)?;
    output(&mut lanyard(&["api", "sscms", ROUTE]))?; // must work before it is timed
    let curl = || {
        let mut c = Command::new("curl");
        c.arg("-fsS")
            .args(["-o", "/dev/null", "-H"])
            .arg(format!("@{}", header_file.display()))
            .arg(format!("{sscms}{ROUTE}"));
        c
    };
    let before = requests()?;
    let times = time_alternately(
        &mut [lanyard(&["api", "sscms", ROUTE]), curl()],
        warmup,
        runs,
    )?;
    // Each curl run is one request (it exited 0, no redirects followed): the rest are lanyard's.
    let calls = runs + warmup;
    let api_requests = (requests()? - before).saturating_sub(calls as u64);
    let (api, curl_floor) = (summarize(&times[0]), summarize(&times[1]));

    let how = format!(
        "{runs} runs after {warmup} warm-up, timed by lanyard-bench in turn with its floor (exec \
         to exit, no shell)"
    );
    b.row(
        "CLI: lanyard token sscms",
        fmt_summary(&token),
        format!(
            "release lanyard; valid SSCMS v6 session (lanyard-sim, loopback) from the kernel \
             session keyring, where the first call cached it (LANYARD_SECRET_STORE=keyring, \
             dbus-run-session); {token_requests} server requests during the runs; {how}; load {load}"
        ),
    );
    b.row(
        "CLI: lanyard token sscms, cache empty",
        fmt_summary(&token_uncached),
        format!(
            "the same, each run in a new empty session keyring (keyctl session -): the session is \
             read from gnome-keyring, as on the first call of a login session; {how}"
        ),
    );
    b.row(
        "CLI floor: secret-tool lookup",
        fmt_summary(&floor),
        format!(
            "the same keyring item (the shelf holding the session), same keyring; {how}; earlier reference measurement: 14 ms mean"
        ),
    );
    b.row(
        "CLI: token vs floor",
        fmt_ratio(&token, &floor),
        "lanyard token sscms median / secret-tool lookup median",
    );
    b.row(
        "CLI: lanyard --version",
        fmt_summary(&version),
        format!("process start + argument parsing only (no store, no keyring); {runs} runs after {warmup} warm-up"),
    );
    b.row(
        "CLI: lanyard api sscms /api/v1/users/1",
        fmt_summary(&api),
        format!(
            "valid session from the kernel session keyring, one GET to lanyard-sim (loopback); {api_requests} \
             server requests for {calls} calls (the simulator's count less curl's one request a \
             run); {how}; load {load}"
        ),
    );
    b.row(
        "CLI floor: curl, same header, same route",
        fmt_summary(&curl_floor),
        format!("curl -H @file (the header lanyard token --as header prints); {how}"),
    );
    b.row(
        "CLI: api vs curl",
        fmt_ratio(&api, &curl_floor),
        "lanyard api median / curl median (goal: below 1.5x)",
    );
    Ok(())
}

/// Writes `text` to a new file only its owner can read.
fn write_private(path: &Path, text: &str) -> Result<(), String> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| format!("{}: {e}", path.display()))
}
