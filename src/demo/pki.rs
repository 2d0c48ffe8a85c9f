//! The demo clusters' own certificate authority, made fresh for every run: a CA, a serving
//! certificate for the loopback addresses the clusters listen on, and a client certificate
//! (the `demo-cert` user of the kubeconfig). The kubeconfig carries the CA as
//! `certificate-authority-data`, so clients verify the demo as they verify a real cluster.

use std::net::IpAddr;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The user name a verified client certificate authenticates as.
pub const CERT_USER: &str = "demo-cert";

/// Certificates of one demo run.
pub struct Pki {
    /// The CA certificate (PEM), for `certificate-authority-data` and clients' trust stores.
    pub ca_pem: String,
    /// The client certificate and its key (PEM), for `client-certificate-data`/`client-key-data`.
    pub client_cert_pem: String,
    pub client_key_pem: String,
    client_der: CertificateDer<'static>,
    /// The TLS configuration of the demo clusters: the serving certificate, client
    /// certificates verified against the CA and optional (a bearer token also authenticates).
    pub server: Arc<rustls::ServerConfig>,
}

fn err(what: &str, e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(format!("cannot make the demo's {what}: {e}"))
}

impl Pki {
    /// A new CA and certificates; the serving certificate names `localhost`, 127.0.0.1, ::1
    /// and `ip` (the address the demo listens on).
    pub fn new(ip: IpAddr) -> std::io::Result<Pki> {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
            KeyPair, KeyUsagePurpose,
        };
        let ca_key = KeyPair::generate().map_err(|e| err("CA key", e))?;
        let mut ca_params =
            CertificateParams::new(Vec::<String>::new()).map_err(|e| err("CA certificate", e))?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "driftdeck-demo-ca");
        let ca = ca_params
            .self_signed(&ca_key)
            .map_err(|e| err("CA certificate", e))?;
        let issuer = Issuer::from_params(&ca_params, &ca_key);

        let mut names = vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
            "::1".to_string(),
        ];
        if !names.contains(&ip.to_string()) && !ip.is_unspecified() {
            names.push(ip.to_string());
        }
        let server_key = KeyPair::generate().map_err(|e| err("serving key", e))?;
        let mut sp = CertificateParams::new(names).map_err(|e| err("serving certificate", e))?;
        sp.distinguished_name
            .push(DnType::CommonName, "kube-apiserver");
        sp.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_cert = sp
            .signed_by(&server_key, &issuer)
            .map_err(|e| err("serving certificate", e))?;

        let client_key = KeyPair::generate().map_err(|e| err("client key", e))?;
        let mut cp = CertificateParams::new(Vec::<String>::new())
            .map_err(|e| err("client certificate", e))?;
        cp.distinguished_name.push(DnType::CommonName, CERT_USER);
        cp.distinguished_name
            .push(DnType::OrganizationName, "system:masters");
        cp.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client_cert = cp
            .signed_by(&client_key, &issuer)
            .map_err(|e| err("client certificate", e))?;

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(ca.der().clone())
            .map_err(|e| err("trust store", e))?;
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            provider.clone(),
        )
        .allow_unauthenticated()
        .build()
        .map_err(|e| err("client verifier", e))?;
        let mut server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| err("TLS configuration", e))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                vec![server_cert.der().clone()],
                PrivateKeyDer::Pkcs8(server_key.serialize_der().into()),
            )
            .map_err(|e| err("TLS configuration", e))?;
        server.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Pki {
            ca_pem: ca.pem(),
            client_cert_pem: client_cert.pem(),
            client_key_pem: client_key.serialize_pem(),
            client_der: client_cert.der().clone(),
            server: Arc::new(server),
        })
    }

    /// The user a TLS peer authenticated as by its (verified) certificate.
    pub fn user_of(&self, certs: Option<&[CertificateDer<'_>]>) -> Option<&'static str> {
        certs
            .and_then(|c| c.first())
            .filter(|c| c.as_ref() == self.client_der.as_ref())
            .map(|_| CERT_USER)
    }
}
