//! The server certificate: the configured one, or a self-signed one made on first start.

use anyhow::Context;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where the certificate came from, for the start-up banner.
pub struct Loaded {
    pub config: Arc<rustls::ServerConfig>,
    pub cert_path: PathBuf,
    pub generated: bool,
}

/// Loads `cert`/`key` if both are configured; otherwise uses (creating on first start)
/// `DATA/tls/cert.pem` and `DATA/tls/key.pem`, self-signed for localhost and 127.0.0.1.
pub fn load_or_generate(
    cert: Option<&Path>,
    key: Option<&Path>,
    data: &Path,
) -> anyhow::Result<Loaded> {
    let (cert_path, key_path, generated) = match (cert, key) {
        (Some(c), Some(k)) => (c.to_path_buf(), k.to_path_buf(), false),
        _ => {
            let dir = data.join("tls");
            let c = dir.join("cert.pem");
            let k = dir.join("key.pem");
            let generated = !(c.exists() && k.exists());
            if generated {
                generate(&dir, &c, &k)?;
            }
            (c, k, generated)
        }
    };
    let config = server_config(&cert_path, &key_path)?;
    Ok(Loaded {
        config,
        cert_path,
        generated,
    })
}

fn generate(dir: &Path, cert: &Path, key: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    let ck = rcgen::generate_simple_self_signed(names).context("cannot generate a certificate")?;
    std::fs::write(cert, ck.cert.pem())
        .with_context(|| format!("cannot write {}", cert.display()))?;
    write_private(key, ck.key_pair.serialize_pem().as_bytes())
        .with_context(|| format!("cannot write {}", key.display()))?;
    Ok(())
}

/// Writes a private key readable by the owner only.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)?.write_all(bytes)
}

fn server_config(cert: &Path, key: &Path) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let read = |p: &Path| std::fs::read(p).with_context(|| format!("cannot read {}", p.display()));
    let cert_pem = read(cert)?;
    let key_pem = read(key)?;
    let certs = rustls_pemfile::certs(&mut cert_pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("bad certificate PEM in {}", cert.display()))?;
    anyhow::ensure!(!certs.is_empty(), "no certificate in {}", cert.display());
    let key_der = rustls_pemfile::private_key(&mut key_pem.as_slice())
        .with_context(|| format!("bad key PEM in {}", key.display()))?
        .with_context(|| format!("no private key in {}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key_der)
        .context("certificate and key do not match")?;
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_once_then_reuses() {
        let dir = std::env::temp_dir().join(format!("sb-tls-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let first = load_or_generate(None, None, &dir).unwrap();
        assert!(first.generated);
        let pem = std::fs::read(&first.cert_path).unwrap();
        let second = load_or_generate(None, None, &dir).unwrap();
        assert!(!second.generated);
        assert_eq!(std::fs::read(&second.cert_path).unwrap(), pem);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_missing_configured_file_is_named() {
        let e = load_or_generate(
            Some(Path::new("/nonexistent/c.pem")),
            Some(Path::new("/x")),
            Path::new("."),
        );
        let msg = format!("{:#}", e.err().unwrap());
        assert!(msg.contains("/nonexistent/c.pem"), "{msg}");
    }
}
