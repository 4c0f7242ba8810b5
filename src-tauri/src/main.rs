// Release builds on Windows must not open a console window next to the app.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    // SAFETY: the first thing the process does; no other thread exists yet.
    unsafe { lanyard_desktop::prepare_environment() };
    if let Err(error) = lanyard_desktop::run() {
        eprintln!("lanyard-desktop: {error}");
        std::process::exit(1);
    }
}
