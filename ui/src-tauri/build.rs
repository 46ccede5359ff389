//! Tauri's build step: embeds `tauri.conf.json`, resolves the capabilities and generates the
//! `allow-api` / `deny-api` permissions for our one command, so the window may call `api`
//! only because `capabilities/default.json` says so.

fn main() {
    let attributes = tauri_build::Attributes::new()
        .app_manifest(tauri_build::AppManifest::new().commands(&["api"]));
    if let Err(e) = tauri_build::try_build(attributes) {
        // A build script reports by panicking; say what to fix first.
        panic!(
            "tauri-build failed: {e:#}\n(is ../dist built? run `npm ci && npm run build` in ui/)"
        );
    }
}
