//! `lanyard-sim [--port-base N] [--demo]`: runs every simulator, prints the endpoint map as one JSON
//! line on stdout and the demo users on stderr, and exits cleanly on SIGINT/SIGTERM.

use std::io::Write;

use clap::Parser;
use lanyard_sim::control::{ControlError, ShopxoConfigPatch, SimControl, SiyuanConfigPatch};

#[derive(Parser, Debug)]
#[command(
    name = "lanyard-sim",
    version,
    about = "Simulators of the services Lanyard logs in to"
)]
struct Args {
    /// Listen on N (steedos), N+1 (sscms), N+2 (coolkit), N+3 (siyuan), N+4 (shopxo) instead
    /// of ephemeral ports.
    #[arg(long, value_name = "N")]
    port_base: Option<u16>,
    /// Start with the switches `make demo` wants: ShopXO logs in without a captcha, and SiYuan
    /// cloud tokens live 10 minutes (countdowns move, keep-alive renews while you watch).
    #[arg(long)]
    demo: bool,
}

/// What `--demo` sets, through the control API like any other client.
async fn demo_settings(e: &lanyard_sim::Endpoints) -> Result<(), ControlError> {
    SimControl::new(&e.shopxo)
        .configure(&ShopxoConfigPatch {
            login_captcha: Some(false),
            ..Default::default()
        })
        .await?;
    SimControl::new(&e.siyuan)
        .configure(&SiyuanConfigPatch {
            captcha: Some(false),
            token_lifetime_secs: Some(600),
            ..Default::default()
        })
        .await?;
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let signals = match Signals::install() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("lanyard-sim: signal handlers: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let running = match lanyard_sim::start(lanyard_sim::SimConfig {
        port_base: args.port_base,
    })
    .await
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("lanyard-sim: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    if args.demo
        && let Err(e) = demo_settings(running.endpoints()).await
    {
        eprintln!("lanyard-sim: --demo: {e}");
        return std::process::ExitCode::FAILURE;
    }
    {
        let line = serde_json::to_string(running.endpoints()).expect("endpoints serialize");
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
    {
        // Demo credentials are the point of the banner; they are fixed, public demo data.
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "lanyard-sim demo users:");
        for u in lanyard_sim::demo_users() {
            let note = if u.note.is_empty() {
                String::new()
            } else {
                format!("  ({})", u.note)
            };
            let _ = writeln!(
                err,
                "  {:<8} {:<34} {}{}",
                u.service, u.user, u.password, note
            );
        }
    }
    signals.wait().await;
    tracing::info!("shutting down");
    running.shutdown().await;
    std::process::ExitCode::SUCCESS
}

/// Signal handlers, installed before the endpoint line is printed so a supervisor that sends
/// SIGTERM right after reading it gets a clean shutdown, not the default disposition.
struct Signals {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(windows)]
    ctrl_c: tokio::signal::windows::CtrlC,
    #[cfg(windows)]
    ctrl_break: tokio::signal::windows::CtrlBreak,
}

impl Signals {
    fn install() -> std::io::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Signals {
                int: signal(SignalKind::interrupt())?,
                term: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(windows)]
        {
            Ok(Signals {
                ctrl_c: tokio::signal::windows::ctrl_c()?,
                ctrl_break: tokio::signal::windows::ctrl_break()?,
            })
        }
    }

    async fn wait(mut self) {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.int.recv() => {}
                _ = self.term.recv() => {}
            }
        }
        #[cfg(windows)]
        {
            tokio::select! {
                _ = self.ctrl_c.recv() => {}
                _ = self.ctrl_break.recv() => {}
            }
        }
    }
}
