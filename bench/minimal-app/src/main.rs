//! The floor `make bench` measures Lanyard against: a Tauri 2 app with one window showing one
//! static page embedded in the binary (`dist/index.html`), no plugins, commands or tray.

fn main() {
    tauri::Builder::default()
        .run(tauri::generate_context!())
        .expect("the minimal Tauri app failed to start");
}
