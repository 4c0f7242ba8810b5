//! Keep-alive at scale, from lanyard-core's examples: `keepalive_idle` (the engine's CPU at
//! rest, 200 accounts, nothing due) and `keepalive_round` (200, then 1,000 CoolKit v2 accounts
//! due at once, real refreshes against lanyard-sim, memory and keyring stores, with the engine's
//! rounds and the accounts its rounds read).
//!
//! An example adds summary rows by printing `BENCH<TAB>figure<TAB>value<TAB>conditions` lines;
//! `keepalive idle: ...` lines are read for their "% of one core"; otherwise the last line is
//! the value.

use std::process::{Command, Stdio};

use crate::{Bench, SimProcess, procs};

pub fn run(b: &mut Bench, sim: Option<&SimProcess>) {
    eprintln!("\n==> keep-alive at scale");
    let idle_secs = b.counts.keepalive_idle_secs.to_string();
    example(
        b,
        "Keep-alive: engine idle CPU, 200 accounts",
        "keepalive_idle",
        &["--accounts", "200", "--secs", &idle_secs],
        false,
    );
    let coolkit: Vec<&str> =
        sim.map_or(vec![], |s| vec!["--coolkit", s.endpoints.coolkit.as_str()]);
    // 200: the figure measured since the engine's first version; 1,000: the burst the engine
    // must renew in <= 5 s (memory store) and <= 10 s (keyring), in few rounds. Each keyring
    // run has a gnome-keyring of its own: a write costs in proportion to the keyring's items,
    // and the other sections' runs leave theirs in the bench's.
    for accounts in ["200", "1000"] {
        for store in ["memory", "keyring"] {
            let mut args = vec!["--accounts", accounts, "--store", store];
            args.extend(&coolkit);
            example(
                b,
                &format!("Keep-alive: refresh round, {accounts} CoolKit accounts due"),
                "keepalive_round",
                &args,
                store == "keyring",
            );
        }
    }
}

/// Runs examples/`name` and adds its rows; with `own_keyring`, inside a private gnome-keyring
/// that starts empty (scripts/with-secret-service.sh).
fn example(b: &mut Bench, figure: &str, name: &str, args: &[&str], own_keyring: bool) {
    let binary = b.release.join("examples").join(name);
    if !binary.is_file() {
        b.row(
            figure,
            "not built",
            format!("{} does not exist", binary.display()),
        );
        return;
    }
    let load = procs::loadavg();
    let mut command = if own_keyring {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../scripts/with-secret-service.sh"
        );
        let mut c = Command::new(script);
        c.arg(&binary);
        c
    } else {
        Command::new(&binary)
    };
    let out = match command
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
    {
        Ok(out) => out,
        Err(e) => {
            b.row(figure, "failed", format!("{}: {e}", binary.display()));
            return;
        }
    };
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    eprint!("{text}");
    if !out.status.success() {
        b.row(
            figure,
            "failed",
            format!(
                "examples/{name} exited with {} (see the log above)",
                out.status
            ),
        );
        return;
    }
    for (figure, value, conditions) in rows(figure, name, &text, &load) {
        let conditions = if own_keyring {
            format!("{conditions}; in a gnome-keyring of its own, empty at the start")
        } else {
            conditions
        };
        b.row(figure, value, conditions);
    }
}

/// The summary rows an example's output makes.
fn rows(figure: &str, name: &str, text: &str, load: &str) -> Vec<(String, String, String)> {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let bench: Vec<_> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("BENCH\t"))
        .map(|l| {
            let mut f = l.split('\t').map(str::to_owned);
            let (figure, value, conditions) = (
                f.next().unwrap_or_default(),
                f.next().unwrap_or_default(),
                f.next().unwrap_or_default(),
            );
            (figure, value, format!("{conditions}; release; load {load}"))
        })
        .collect();
    if !bench.is_empty() {
        return bench;
    }
    for l in &lines {
        if let Some(rest) = l.strip_prefix("keepalive idle:")
            && let Some(pct) = percent_of_one_core(rest)
        {
            return vec![(
                figure.to_owned(),
                format!("{pct:.4}% of one core"),
                format!(
                    "examples/keepalive_idle (release), memory secret store, the app's engine \
                     settings; it says: {}; load {load}",
                    rest.trim()
                ),
            )];
        }
    }
    vec![(
        figure.to_owned(),
        lines.last().map_or("no output".into(), |l| l.to_string()),
        format!("examples/{name} (release); load {load}"),
    )]
}

/// The number just before the first " % of one core".
fn percent_of_one_core(text: &str) -> Option<f64> {
    let end = text.find(" % of one core")?;
    let start = text[..end]
        .rfind(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map_or(0, |i| i + 1);
    text[start..end].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_lines_become_rows_and_idle_lines_give_their_share() {
        let r = rows(
            "f",
            "keepalive_round",
            "noise\nBENCH\tA\t1 s\tcond\n",
            "0.5",
        );
        assert_eq!(
            r,
            vec![("A".into(), "1 s".into(), "cond; release; load 0.5".into())]
        );
        let r = rows(
            "Idle",
            "keepalive_idle",
            "keepalive idle: 200 accounts, nothing due, 60.0 s wall: CPU 10 ms by /proc/self/stat (10 ms ticks), 9 ms by thread schedstat (0.0150 % of one core), 3 rounds, 2 checks\n",
            "0.5",
        );
        assert_eq!(
            (r[0].0.as_str(), r[0].1.as_str()),
            ("Idle", "0.0150% of one core")
        );
        let r = rows("f", "x", "a\nlast line\n", "0.5");
        assert_eq!(r[0].1, "last line");
    }
}
