//! Who may talk to the demo clusters, and the kubeconfig that says how: HTTPS with the run's
//! own CA; a request is authenticated by a bearer token the cluster knows or by a client
//! certificate the CA signed, and anything else is 401, as a kube-apiserver without anonymous
//! auth answers.

use std::path::Path;

use hyper::{Request, header};

use super::{Cluster, KubeServer};
use crate::demo::pki::Pki;

/// The credential a context of the demo kubeconfig uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// A static bearer token (`user.token`).
    Token,
    /// A client certificate signed by the run's CA.
    Cert,
    /// An exec credential plugin (`user.exec`) that prints a token.
    Exec,
}

impl Auth {
    fn user(self) -> &'static str {
        match self {
            Auth::Token => "demo",
            Auth::Cert => crate::demo::pki::CERT_USER,
            Auth::Exec => "demo-exec",
        }
    }
}

/// What the kubeconfig's users hold.
pub struct Credentials<'a> {
    pub token: &'a str,
    pub pki: &'a Pki,
    /// The exec credential plugin (an absolute path).
    pub exec: &'a Path,
}

/// The user a request authenticates as: its bearer token, else the client certificate of its
/// connection (`cert_user`); `None` is 401.
pub fn user_of<B>(c: &Cluster, req: &Request<B>, cert_user: Option<&str>) -> Option<String> {
    match req.headers().get(header::AUTHORIZATION) {
        Some(v) => {
            let token = v.to_str().ok()?.strip_prefix("Bearer ")?.trim();
            c.tokens
                .iter()
                .find(|(t, _)| t == token)
                .map(|(_, u)| u.clone())
        }
        None => cert_user.map(str::to_string),
    }
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// A kubeconfig with one context per cluster, each with its server's URL, the CA, and the
/// credential form the server was started with.
pub fn kubeconfig(servers: &[KubeServer], creds: &Credentials<'_>) -> String {
    let ca = b64(&creds.pki.ca_pem);
    let mut s = String::from("apiVersion: v1\nkind: Config\nclusters:\n");
    for k in servers {
        s.push_str(&format!(
            "- name: {}\n  cluster:\n    server: https://{}\n    certificate-authority-data: {ca}\n",
            k.name, k.addr
        ));
    }
    s.push_str("users:\n");
    s.push_str(&format!(
        "- name: {}\n  user:\n    token: {}\n",
        Auth::Token.user(),
        creds.token
    ));
    s.push_str(&format!(
        "- name: {}\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\n",
        Auth::Cert.user(),
        b64(&creds.pki.client_cert_pem),
        b64(&creds.pki.client_key_pem)
    ));
    let exec = serde_json::to_string(&creds.exec.display().to_string()).unwrap_or_default();
    s.push_str(&format!(
        "- name: {}\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: {exec}\n      interactiveMode: Never\n      provideClusterInfo: false\n",
        Auth::Exec.user()
    ));
    s.push_str("contexts:\n");
    for k in servers {
        s.push_str(&format!(
            "- name: {}\n  context:\n    cluster: {}\n    user: {}\n",
            k.context,
            k.name,
            k.auth.user()
        ));
    }
    if let Some(first) = servers.first() {
        s.push_str(&format!("current-context: {}\n", first.context));
    }
    s
}
