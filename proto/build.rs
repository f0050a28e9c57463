//! Generates the tonic client and server code from `proto/kubelab.proto` (needs `protoc`).
fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    println!("cargo:rerun-if-changed=build.rs");
    tonic_prost_build::configure()
        // A watch event's object is shared by every watcher it goes to: as
        // `Bytes` the apiserver hands each stream a reference, not a copy.
        .bytes(".kubelab.v1.WatchEvent.json")
        .compile_protos(&["proto/kubelab.proto"], &["proto"])?;
    Ok(())
}
