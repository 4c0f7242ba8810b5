//! `lanyard`: the scripting companion of the desktop app (contract: DESIGN.md "CLI contract").

fn main() {
    eprintln!("lanyard: the command line lands with issue 7");
    std::process::exit(2);
}
