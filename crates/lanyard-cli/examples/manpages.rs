//! Writes the `lanyard` man pages (lanyard.1 and one lanyard-<command>.1 per subcommand) into
//! the directory given as the only argument, from the same clap definition the binary parses.
//! `make package` runs it; the pages ship in the Debian package.

#[path = "../src/args.rs"]
#[allow(dead_code)] // the binary uses the rest of the module; the pages need only `Cli`
mod args;

use std::path::{Path, PathBuf};

use clap::CommandFactory;

fn main() -> std::io::Result<()> {
    let out: PathBuf = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .expect("usage: manpages OUT_DIR");
    std::fs::create_dir_all(&out)?;
    let mut command = args::Cli::command();
    // Built, so the generated `help` subcommand that lanyard.1 lists gets its page too.
    command.build();
    write_page(&out, "lanyard", command.clone())?;
    for sub in command.get_subcommands() {
        let name = format!("lanyard-{}", sub.get_name());
        // clap takes a &'static name without its `string` feature; this process ends right after.
        let page_name: &'static str = Box::leak(name.clone().into_boxed_str());
        let bin_name = format!("lanyard {}", sub.get_name());
        write_page(&out, &name, sub.clone().name(page_name).bin_name(bin_name))?;
    }
    Ok(())
}

fn write_page(dir: &Path, name: &str, command: clap::Command) -> std::io::Result<()> {
    let mut roff = Vec::new();
    clap_mangen::Man::new(command)
        .section("1")
        .manual("Lanyard Manual")
        .source(concat!("Lanyard ", env!("CARGO_PKG_VERSION")))
        .render(&mut roff)?;
    std::fs::write(dir.join(format!("{name}.1")), roff)
}
