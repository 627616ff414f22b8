//! `HTTP_GET` and `SSL_GET` as keepalived 2.2.7 sends them (`check_http.c`): `GET PATH
//! HTTP/1.0`, `User-Agent: KeepAliveClient`, `Host: vhost` or `ADDR:PORT`; the status code
//! must be in the url's ranges (200-299 by default) and, with `digest`, the MD5 of the body
//! (up to Content-Length) must match. Every connect, write and read waits at most
//! `connect_timeout`. TLS certificates are not verified (keepalived does not either). Also
//! `xvrrpd genhash`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::time::timeout;

use super::{HttpSpec, Outcome, UrlSpec};

/// A fetched page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: String,
    /// MD5 of the body (up to Content-Length when given), lower-case hex.
    pub digest: String,
    pub body_len: usize,
}

/// What to fetch.
#[derive(Clone, Debug)]
pub struct Request<'a> {
    pub target: SocketAddr,
    pub bindto: Option<IpAddr>,
    pub tls: bool,
    pub path: &'a str,
    pub virtualhost: Option<&'a str>,
    pub http_1_1: bool,
    pub connection_close: bool,
    pub sni: bool,
    pub timeout: Duration,
}

/// Runs every url of an HTTP_GET/SSL_GET checker; the first failure is the outcome.
pub async fn check(
    spec: &HttpSpec,
    target: SocketAddr,
    bindto: Option<IpAddr>,
    connect_timeout: Duration,
) -> Outcome {
    for url in &spec.urls {
        let request = Request {
            target,
            bindto,
            tls: spec.tls,
            path: &url.path,
            virtualhost: url.virtualhost.as_deref().or(spec.virtualhost.as_deref()),
            http_1_1: spec.http_1_1,
            connection_close: spec.connection_close,
            sni: spec.sni,
            timeout: connect_timeout,
        };
        match fetch(&request).await {
            Ok(response) => {
                if let Some(reason) = judge(url, &response) {
                    return Outcome::Down { reason };
                }
            }
            Err(e) => return Outcome::Down { reason: e },
        }
    }
    Outcome::Up { weight: None }
}

/// Why a response fails the url, if it does.
fn judge(url: &UrlSpec, response: &Response) -> Option<String> {
    if !url
        .status
        .iter()
        .any(|(min, max)| (*min..=*max).contains(&response.status))
    {
        return Some(format!(
            "HTTP status code {} for {}",
            response.status, url.path
        ));
    }
    if let Some(digest) = &url.digest
        && *digest != response.digest
    {
        return Some(format!(
            "MD5 digest {} for {} (expected {digest})",
            response.digest, url.path
        ));
    }
    None
}

/// keepalived's request (`request_template`): HTTP/1.0 unless `http_protocol 1.1`.
pub fn request_text(request: &Request<'_>) -> String {
    let host = match request.virtualhost {
        Some(vhost) => vhost.to_string(),
        None => match request.target {
            SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
            SocketAddr::V4(a) => format!("{}:{}", a.ip(), a.port()),
        },
    };
    format!(
        "GET {} HTTP/1.{}\r\nUser-Agent: KeepAliveClient\r\n{}Host: {host}\r\n\r\n",
        request.path,
        u8::from(request.http_1_1),
        if request.connection_close {
            "Connection: close\r\n"
        } else {
            ""
        }
    )
}

/// Fetches a page; `Err` says why not (connection, TLS, timeout, no data).
pub async fn fetch(request: &Request<'_>) -> Result<Response, String> {
    let stream = timeout(request.timeout, connect(request.target, request.bindto))
        .await
        .map_err(|_| "timeout connecting".to_string())?
        .map_err(|e| format!("connection failed: {e}"))?;
    if request.tls {
        let connector = tokio_rustls::TlsConnector::from(tls_config());
        let name = match (request.sni, request.virtualhost) {
            (true, Some(vhost)) => rustls::pki_types::ServerName::try_from(vhost.to_string())
                .map_err(|e| format!("virtualhost {vhost} is not a server name: {e}"))?,
            _ => rustls::pki_types::ServerName::IpAddress(request.target.ip().into()),
        };
        let tls = timeout(request.timeout, connector.connect(name, stream))
            .await
            .map_err(|_| "timeout in the TLS handshake".to_string())?
            .map_err(|e| format!("SSL handshake/communication error: {e}"))?;
        exchange(tls, request).await
    } else {
        exchange(stream, request).await
    }
}

async fn connect(target: SocketAddr, bindto: Option<IpAddr>) -> std::io::Result<TcpStream> {
    let socket = if target.is_ipv6() {
        tokio::net::TcpSocket::new_v6()?
    } else {
        tokio::net::TcpSocket::new_v4()?
    };
    if let Some(addr) = bindto {
        socket.bind(SocketAddr::new(addr, 0))?;
    }
    socket.connect(target).await
}

async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    request: &Request<'_>,
) -> Result<Response, String> {
    let text = request_text(request);
    timeout(request.timeout, stream.write_all(text.as_bytes()))
        .await
        .map_err(|_| "timeout writing the request".to_string())?
        .map_err(|e| format!("cannot send the request: {e}"))?;
    let mut received = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match timeout(request.timeout, stream.read(&mut buf)).await {
            Err(_) => return Err("timeout reading the response".into()),
            Ok(Ok(0)) => break,
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
            // A TLS peer that closes without close_notify: what was read counts.
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Ok(Err(e)) => return Err(format!("read error: {e}")),
        }
        if let Some(response) = complete(&received) {
            return Ok(response);
        }
    }
    if received.is_empty() {
        return Err("no data received".into());
    }
    parse(&received).ok_or_else(|| "no HTTP header in the response".to_string())
}

/// The response once everything Content-Length announces has arrived.
fn complete(received: &[u8]) -> Option<Response> {
    let end = find_header_end(received)?;
    let headers = String::from_utf8_lossy(&received[..end]);
    let length = content_length(&headers)?;
    (received.len() >= end + length).then(|| parse(received))?
}

fn find_header_end(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
}

fn content_length(headers: &str) -> Option<usize> {
    headers.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse().ok())?
    })
}

/// keepalived's `extract_status_code` / `extract_html` and the digest over the body.
pub fn parse(received: &[u8]) -> Option<Response> {
    let end = find_header_end(received)?;
    let headers = String::from_utf8_lossy(&received[..end]).into_owned();
    let status = headers
        .split(' ')
        .nth(1)
        .filter(|code| code.len() == 3)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let mut body = &received[end..];
    if let Some(length) = content_length(&headers) {
        body = &body[..length.min(body.len())];
    }
    Some(Response {
        status,
        headers,
        digest: format!("{:x}", md5::compute(body)),
        body_len: body.len(),
    })
}

fn tls_config() -> Arc<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    Arc::new(config)
}

/// keepalived's SSL_GET does not verify the real server's certificate (SSL_VERIFY_NONE):
/// the check is about the service answering, and real servers often have self-signed ones.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `xvrrpd genhash URL`: keepalived's genhash, for the `digest` of a url.
pub async fn genhash(
    url: &str,
    virtualhost: Option<&str>,
    http_1_1: bool,
    timeout_after: Duration,
) -> Result<Response, String> {
    let (tls, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else {
        return Err(format!(
            "{url}: expected http://HOST[:PORT]/PATH or https://..."
        ));
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let default_port = if tls { 443 } else { 80 };
    let target: SocketAddr = if let Ok(addr) = authority.parse() {
        addr
    } else if let Ok(ip) = authority.trim_matches(['[', ']']).parse::<IpAddr>() {
        SocketAddr::new(ip, default_port)
    } else {
        let with_port = if authority.contains(':') {
            authority.to_string()
        } else {
            format!("{authority}:{default_port}")
        };
        tokio::net::lookup_host(with_port)
            .await
            .map_err(|e| format!("{authority}: {e}"))?
            .next()
            .ok_or_else(|| format!("{authority}: no address"))?
    };
    let host_is_name = authority.parse::<SocketAddr>().is_err()
        && authority
            .trim_matches(['[', ']'])
            .parse::<IpAddr>()
            .is_err();
    let vhost = virtualhost.or(host_is_name.then_some(authority));
    fetch(&Request {
        target,
        bindto: None,
        tls,
        path,
        virtualhost: vhost,
        http_1_1,
        connection_close: http_1_1,
        sni: vhost.is_some(),
        timeout: timeout_after,
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_is_keepalived_s() {
        let request = Request {
            target: "192.0.2.7:8080".parse().unwrap(),
            bindto: None,
            tls: false,
            path: "/index.html",
            virtualhost: None,
            http_1_1: false,
            connection_close: false,
            sni: false,
            timeout: Duration::from_secs(1),
        };
        assert_eq!(
            request_text(&request),
            "GET /index.html HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: 192.0.2.7:8080\r\n\r\n"
        );
    }

    #[test]
    fn digest_covers_the_body_up_to_content_length() {
        let response =
            parse(b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello trailing").unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.digest, format!("{:x}", md5::compute(b"hello")));
        assert!(parse(b"HTTP/1.1 404 Not Found\r\n\r\n").unwrap().status == 404);
    }
}
