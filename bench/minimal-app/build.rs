//! Compiles the Tauri context (config, the embedded page, the window icon).

fn main() {
    println!("cargo:rerun-if-changed=dist");
    tauri_build::build();
}
