//! Certificates for TLS tests, generated at test time (rcgen) into a temporary directory: a CA,
//! a server certificate for `localhost` / `127.0.0.1` and a client certificate signed by it, a
//! self-signed server certificate, and an unrelated CA.
//!
//! ```yaml
//! # what a test writes into its receiver config, with the paths of a TestPki:
//! tls: { cert_file: <dir>/server.crt, key_file: <dir>/server.key, client_ca_file: <dir>/ca.crt }
//! ```

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use std::path::PathBuf;

/// The files, in a directory removed on drop: `ca.crt`, `server.crt`/`.key`,
/// `client.crt`/`.key` (signed by `ca.crt`), `self_signed.crt`/`.key`, `other_ca.crt`.
pub struct TestPki {
    pub dir: tempfile::TempDir,
}

fn ca(name: &str) -> (rcgen::Certificate, KeyPair) {
    let key = KeyPair::generate().expect("key");
    let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, name);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    (p.self_signed(&key).expect("self-signed CA"), key)
}

fn leaf(usage: ExtendedKeyUsagePurpose, cn: &str) -> (CertificateParams, KeyPair) {
    let key = KeyPair::generate().expect("key");
    let mut p = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .expect("params");
    p.distinguished_name.push(DnType::CommonName, cn);
    p.extended_key_usages = vec![usage];
    (p, key)
}

impl TestPki {
    #[allow(clippy::new_without_default)]
    pub fn new() -> TestPki {
        let dir = tempfile::tempdir().expect("tempdir");
        let write = |name: &str, text: String| {
            std::fs::write(dir.path().join(name), text).expect("write pem");
        };
        let (ca_cert, ca_key) = ca("ferrotel test CA");
        write("ca.crt", ca_cert.pem());
        for (name, usage) in [
            ("server", ExtendedKeyUsagePurpose::ServerAuth),
            ("client", ExtendedKeyUsagePurpose::ClientAuth),
        ] {
            let (p, key) = leaf(usage, name);
            let cert = p.signed_by(&key, &ca_cert, &ca_key).expect("sign");
            write(&format!("{name}.crt"), cert.pem());
            write(&format!("{name}.key"), key.serialize_pem());
        }
        let (p, key) = leaf(ExtendedKeyUsagePurpose::ServerAuth, "self-signed");
        write("self_signed.crt", p.self_signed(&key).expect("sign").pem());
        write("self_signed.key", key.serialize_pem());
        write("other_ca.crt", ca("another CA").0.pem());
        TestPki { dir }
    }

    /// The path of one of the files, as a string for YAML.
    pub fn path(&self, name: &str) -> String {
        self.file(name).to_string_lossy().into_owned()
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The contents of one of the files (PEM).
    pub fn pem(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.file(name)).expect("read pem")
    }
}
