//! A small HTTP/1.1 client for one job: fetching a user's calendar from a URL (RFC 9110,
//! RFC 9112). `http` and `https` (rustls, trusting the system's certificate bundle), a
//! few redirects, chunked or length-delimited bodies, a size limit and a deadline. Nothing
//! else in the server makes outgoing HTTP requests, so a general client is not pulled in.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// Where the system keeps its trusted certificates (Debian's ca-certificates).
const CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";
const MAX_REDIRECTS: usize = 3;

/// Fetches `url` and returns the body as text; at most `limit` bytes, within `deadline`.
pub async fn get_text(url: &str, limit: usize, deadline: Duration) -> anyhow::Result<String> {
    tokio::time::timeout(deadline, get_following(url, limit))
        .await
        .with_context(|| format!("no answer within {} s", deadline.as_secs()))?
}

async fn get_following(url: &str, limit: usize) -> anyhow::Result<String> {
    let mut url = url.to_string();
    for _ in 0..=MAX_REDIRECTS {
        match get_once(&url, limit).await? {
            Fetched::Body(b) => {
                return String::from_utf8(b).context("the body is not UTF-8 text");
            }
            Fetched::Redirect(to) => url = to,
        }
    }
    bail!("more than {MAX_REDIRECTS} redirects")
}

enum Fetched {
    Body(Vec<u8>),
    Redirect(String),
}

struct Url {
    tls: bool,
    host: String,
    port: u16,
    path: String,
}

fn parse_url(url: &str) -> anyhow::Result<Url> {
    let (tls, rest) = if let Some(r) = url.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("http://") {
        (false, r)
    } else {
        bail!("{url:?} is not an http or https URL");
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => match p.parse() {
            Ok(p) => (h, p),
            Err(_) => (authority, if tls { 443 } else { 80 }),
        },
        _ => (authority, if tls { 443 } else { 80 }),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || path.contains(['\r', '\n', ' ']) {
        bail!("{url:?} is not a usable URL");
    }
    Ok(Url {
        tls,
        host: host.to_string(),
        port,
        path: path.split('#').next().unwrap_or(path).to_string(),
    })
}

async fn get_once(url: &str, limit: usize) -> anyhow::Result<Fetched> {
    let u = parse_url(url)?;
    let tcp = TcpStream::connect((u.host.as_str(), u.port))
        .await
        .with_context(|| format!("cannot connect to {}:{}", u.host, u.port))?;
    if u.tls {
        let connector = tokio_rustls::TlsConnector::from(client_config()?);
        let name = rustls::pki_types::ServerName::try_from(u.host.clone())
            .with_context(|| format!("{:?} is not a TLS server name", u.host))?;
        let tls = connector
            .connect(name, tcp)
            .await
            .with_context(|| format!("TLS with {} failed", u.host))?;
        exchange(tls, &u, url, limit).await
    } else {
        exchange(tcp, &u, url, limit).await
    }
}

fn client_config() -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(CA_BUNDLE).with_context(|| format!("cannot read {CA_BUNDLE}"))?;
    for cert in rustls_pemfile::certs(&mut pem.as_slice()).flatten() {
        let _ = roots.add(cert);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    u: &Url,
    url: &str,
    limit: usize,
) -> anyhow::Result<Fetched> {
    let host = if (u.tls && u.port == 443) || (!u.tls && u.port == 80) {
        u.host.clone()
    } else {
        format!("{}:{}", u.host, u.port)
    };
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {host}\r\nAccept: text/calendar, */*\r\n\
         User-Agent: switchboard/{}\r\nConnection: close\r\n\r\n",
        u.path,
        env!("CARGO_PKG_VERSION")
    );
    s.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    // Headers plus a body up to the limit; more than that is refused, not cut.
    let cap = limit + 64 * 1024;
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match s.read(&mut buf).await {
            Ok(n) => n,
            // Servers that close without TLS close_notify: what arrived is the answer.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => 0,
            Err(e) => return Err(e.into()),
        };
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
        if raw.len() > cap {
            bail!("the answer is larger than {limit} bytes");
        }
    }
    parse_response(&raw, url, limit)
}

fn parse_response(raw: &[u8], url: &str, limit: usize) -> anyhow::Result<Fetched> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("no complete HTTP response")?;
    let head = std::str::from_utf8(&raw[..end]).context("HTTP headers are not text")?;
    let body = &raw[end + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("bad status line {status_line:?}"))?;
    let header = |name: &str| {
        head.split("\r\n").skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    };
    if matches!(status, 301 | 302 | 303 | 307 | 308) {
        let to = header("Location").context("a redirect without Location")?;
        let absolute = if to.starts_with("http://") || to.starts_with("https://") {
            to
        } else {
            let u = parse_url(url)?;
            let scheme = if u.tls { "https" } else { "http" };
            format!("{scheme}://{}:{}{}", u.host, u.port, to)
        };
        return Ok(Fetched::Redirect(absolute));
    }
    if status != 200 {
        bail!("the server answered {status_line}");
    }
    let chunked =
        header("Transfer-Encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let body = if chunked {
        dechunk(body)?
    } else if let Some(len) = header("Content-Length").and_then(|v| v.parse::<usize>().ok()) {
        body.get(..len)
            .context("the body is shorter than its Content-Length")?
            .to_vec()
    } else {
        body.to_vec()
    };
    if body.len() > limit {
        bail!("the body is larger than {limit} bytes");
    }
    Ok(Fetched::Body(body))
}

/// RFC 9112 §7.1: hex size lines, chunks, a zero-size last chunk (trailers ignored).
fn dechunk(mut b: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = b
            .windows(2)
            .position(|w| w == b"\r\n")
            .context("a chunk size line without its end")?;
        let line = std::str::from_utf8(&b[..eol]).context("chunk size is not text")?;
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .with_context(|| format!("bad chunk size {size_text:?}"))?;
        b = &b[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        let chunk = b.get(..size).context("a chunk shorter than its size")?;
        out.extend_from_slice(chunk);
        b = b.get(size + 2..).context("a chunk without its line end")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_split_into_their_parts() {
        let u = parse_url("https://cal.example.com/u/bob.ics#x").unwrap();
        assert!(u.tls);
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("cal.example.com", 443, "/u/bob.ics")
        );
        let u = parse_url("http://127.0.0.1:8080").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("127.0.0.1", 8080, "/")
        );
        let u = parse_url("http://[::1]:81/c.ics").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 81));
        assert!(parse_url("ftp://x/y").is_err());
        assert!(parse_url("http:///y").is_err());
    }

    #[test]
    fn bodies_come_whole_chunked_or_by_length_and_redirects_are_followed() {
        let plain = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello+junk";
        assert!(
            matches!(parse_response(plain, "http://h/", 100).unwrap(), Fetched::Body(b) if b == b"hello")
        );
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nBEGI\r\n5;x=y\r\nN:VCA\r\n0\r\n\r\n";
        assert!(
            matches!(parse_response(chunked, "http://h/", 100).unwrap(), Fetched::Body(b) if b == b"BEGIN:VCA")
        );
        let moved = b"HTTP/1.1 302 Found\r\nLocation: /new.ics\r\n\r\n";
        assert!(
            matches!(parse_response(moved, "http://h:81/old", 100).unwrap(), Fetched::Redirect(u) if u == "http://h:81/new.ics")
        );
        let missing = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
        assert!(parse_response(missing, "http://h/", 100).is_err());
        let big = b"HTTP/1.1 200 OK\r\n\r\n0123456789";
        assert!(parse_response(big, "http://h/", 5).is_err());
        assert!(parse_response(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            "http://h/",
            9
        )
        .is_err());
    }
}
