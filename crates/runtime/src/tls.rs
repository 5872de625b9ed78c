//! The process's TLS crypto provider. reqwest is built without one (`rustls-no-provider`: its
//! default, aws-lc-rs, needs cmake and a C build) and refuses to build a client until one is
//! installed: ring, which the rest of the tree links already.

/// Installs ring as the process-wide rustls provider; calling it again, or after another
/// provider was installed, changes nothing.
pub fn install_tls_provider() {
    // An error means a provider is installed already, which is all that is needed.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A reqwest client builder once the provider is installed: every HTTP client of the workspace
/// starts here.
pub fn http_client() -> reqwest::ClientBuilder {
    install_tls_provider();
    reqwest::Client::builder()
}
