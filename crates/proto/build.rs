//! Generates the gRPC code from `proto/` with protox, so building never needs a system `protoc`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    println!("cargo:rerun-if-changed={}", proto_root.display());
    let files = [
        proto_root.join("causerie/accounts/v1/accounts.proto"),
        proto_root.join("causerie/accounts/v1/privacy.proto"),
        proto_root.join("causerie/assistant/v1/assistant.proto"),
        proto_root.join("causerie/retention/v1/retention.proto"),
    ];
    let descriptors = protox::compile(files, [&proto_root])?;
    tonic_prost_build::configure().build_server(true).build_client(true).compile_fds(descriptors)?;
    Ok(())
}
