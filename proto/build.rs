//! Compiles the worker protocol. The same `.proto` files generate the Python stubs
//! (`workers-py`), so both sides always speak the same version.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = ["weft/worker/v1/worker.proto", "grpc/health/v1/health.proto"];
    for p in &protos {
        println!("cargo:rerun-if-changed={p}");
    }
    if std::env::var_os("PROTOC").is_none() && which_protoc().is_none() {
        return Err("protoc not found: install Debian's `protobuf-compiler` (scripts/setup.sh does) or set PROTOC".into());
    }
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_protos(&protos, &["."])?;
    Ok(())
}

fn which_protoc() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("protoc"))
        .find(|p| p.is_file())
}
