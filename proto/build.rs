//! Generates the tonic client and server code from `proto/kubelab.proto` (needs `protoc`).
fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    tonic_prost_build::configure().compile_protos(&["proto/kubelab.proto"], &["proto"])?;
    Ok(())
}
