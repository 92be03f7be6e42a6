//! TLS: the trust roots every HTTPS request uses, and the certificate probe behind `tls::cert`.
//!
//! The probe completes the handshake whatever the certificate's state, so an expired or untrusted certificate
//! is reported with its dates and names instead of as a failed connection.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct CertRequest {
    pub host: String,
    pub port: u16,
    /// The name sent as SNI and checked against the certificate (defaults to `host`): lets a probe reach an
    /// origin by IP and still ask for the site's certificate.
    pub server_name: String,
    pub ca_file: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CertInfo {
    pub subject: String,
    pub issuer: String,
    pub sans: Vec<String>,
    pub not_before: String,
    pub not_after: String,
    /// Whole days until `not_after`, negative once expired.
    pub days_left: i64,
    pub trusted: bool,
    /// Empty when the certificate is valid for `server_name` and trusted; otherwise what is wrong.
    pub problem: String,
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn system_roots() -> &'static RootCertStore {
    static ROOTS: OnceLock<RootCertStore> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let mut roots = RootCertStore::empty();
        roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        roots
    })
}

/// The system's roots plus those in `ca_file`, read once per file and process: every HTTPS request and
/// every probe connection builds its TLS config from them.
pub fn roots(ca_file: Option<&str>) -> Result<Arc<RootCertStore>, String> {
    static CACHE: OnceLock<Mutex<HashMap<Option<String>, Arc<RootCertStore>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = ca_file.map(str::to_string);
    if let Some(found) = cache.lock().expect("roots cache lock").get(&key) {
        return Ok(Arc::clone(found));
    }
    let mut roots = system_roots().clone();
    if let Some(path) = ca_file {
        let certs: Vec<CertificateDer> = CertificateDer::pem_file_iter(path)
            .map_err(|e| format!("cannot read the CA file {path}: {e}"))?
            .collect::<Result<_, _>>()
            .map_err(|e| format!("the CA file {path} is not PEM: {e}"))?;
        if certs.is_empty() {
            return Err(format!("the CA file {path} holds no certificate"));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| format!("the CA file {path} has an unusable certificate: {e}"))?;
        }
    }
    let roots = Arc::new(roots);
    cache.lock().expect("roots cache lock").insert(key, Arc::clone(&roots));
    Ok(roots)
}

pub fn client_config(ca_file: Option<&str>) -> Result<ClientConfig, String> {
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_root_certificates(roots(ca_file)?)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The certificate trouble named in an error chain (rustls's words), in plain words.
pub fn certificate_problem(causes: &str) -> Option<String> {
    let known = [
        ("certificate expired", "the certificate has expired"),
        ("Expired", "the certificate has expired"),
        ("not valid yet", "the certificate is not valid yet"),
        ("NotValidYet", "the certificate is not valid yet"),
        ("not valid for name", "the certificate is not valid for this host name"),
        ("NotValidForName", "the certificate is not valid for this host name"),
        ("UnknownIssuer", "the certificate is not trusted (unknown issuer; pass ca_file for a private CA)"),
        ("Signature", "the certificate is not trusted (its signature does not verify against a trusted root)"),
        ("invalid peer certificate", "the certificate is not trusted"),
    ];
    known.iter().find(|(needle, _)| causes.contains(needle)).map(|(_, text)| text.to_string())
}

/// The chain a server presented, and what the real verifier thought of it.
type Seen = (Vec<CertificateDer<'static>>, Result<(), rustls::Error>);

/// Accepts every certificate after asking the real verifier, and keeps its verdict and the chain.
#[derive(Debug)]
struct Witness {
    real: Arc<WebPkiServerVerifier>,
    seen: Mutex<Option<Seen>>,
}

impl ServerCertVerifier for Witness {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verdict = self.real.verify_server_cert(end_entity, intermediates, server_name, ocsp, now).map(|_| ());
        let chain = std::iter::once(end_entity).chain(intermediates).map(|c| c.clone().into_owned()).collect();
        *self.seen.lock().expect("witness lock") = Some((chain, verdict));
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.real.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.real.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.real.supported_verify_schemes()
    }
}

pub async fn probe(request: &CertRequest, timeout: Duration) -> Result<CertInfo, String> {
    let real = WebPkiServerVerifier::builder_with_provider(roots(request.ca_file.as_deref())?, provider())
        .build()
        .map_err(|e| format!("TLS setup: {e}"))?;
    let witness = Arc::new(Witness { real, seen: Mutex::new(None) });
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::clone(&witness) as Arc<dyn ServerCertVerifier>)
        .with_no_client_auth();
    let name = ServerName::try_from(request.server_name.clone())
        .map_err(|_| format!("`{}` is not a host name or IP address", request.server_name))?;
    let address = format!("{}:{}", request.host, request.port);
    let handshake = async {
        let tcp = tokio::net::TcpStream::connect(&address).await.map_err(|e| match e.kind() {
            std::io::ErrorKind::ConnectionRefused => format!("{address}: connection refused (nothing listens there)"),
            _ => format!("{address}: cannot connect: {e}"),
        })?;
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        connector.connect(name, tcp).await.map_err(|e| format!("{address}: TLS handshake failed: {e}"))
    };
    let stream = tokio::time::timeout(timeout, handshake)
        .await
        .map_err(|_| format!("{address}: no TLS handshake within {}", crate::duration::short(timeout)))??;
    drop(stream);
    let Some((chain, verdict)) = witness.seen.lock().expect("witness lock").take() else {
        return Err(format!("{address}: the server sent no certificate"));
    };
    describe(&chain[0], verdict)
}

fn describe(leaf: &CertificateDer<'_>, verdict: Result<(), rustls::Error>) -> Result<CertInfo, String> {
    use x509_parser::prelude::*;
    let (_, cert) =
        X509Certificate::from_der(leaf).map_err(|e| format!("the server's certificate does not parse: {e}"))?;
    let validity = cert.validity();
    let not_after = validity.not_after.timestamp();
    let now = chrono::Utc::now().timestamp();
    let days_left = (not_after - now).div_euclid(86_400);
    let sans = cert
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|ext| {
            ext.value
                .general_names
                .iter()
                .filter_map(|n| match n {
                    GeneralName::DNSName(d) => Some(d.to_string()),
                    GeneralName::IPAddress(ip) => ip_text(ip),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let stamp = |t: i64| {
        chrono::DateTime::from_timestamp(t, 0)
            .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default()
    };
    use rustls::CertificateError as E;
    let (problem, trusted) = match &verdict {
        Ok(()) => (String::new(), true),
        Err(rustls::Error::InvalidCertificate(E::Expired | E::ExpiredContext { .. })) => {
            (format!("expired on {} ({} days ago)", stamp(not_after), -days_left), true)
        }
        Err(rustls::Error::InvalidCertificate(
            E::NotValidYet | E::NotValidYetContext { .. } | E::NotValidForName | E::NotValidForNameContext { .. },
        )) => (certificate_problem(&verdict_text(&verdict)).unwrap_or_default(), true),
        Err(_) => {
            let text = verdict_text(&verdict);
            (certificate_problem(&text).unwrap_or_else(|| format!("the certificate is not trusted ({text})")), false)
        }
    };
    Ok(CertInfo {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        sans,
        not_before: stamp(validity.not_before.timestamp()),
        not_after: stamp(not_after),
        days_left,
        trusted,
        problem,
    })
}

fn verdict_text(verdict: &Result<(), rustls::Error>) -> String {
    verdict.as_ref().err().map(|e| e.to_string()).unwrap_or_default()
}

fn ip_text(bytes: &[u8]) -> Option<String> {
    match bytes.len() {
        4 => Some(std::net::Ipv4Addr::from(<[u8; 4]>::try_from(bytes).ok()?).to_string()),
        16 => Some(std::net::Ipv6Addr::from(<[u8; 16]>::try_from(bytes).ok()?).to_string()),
        _ => None,
    }
}
