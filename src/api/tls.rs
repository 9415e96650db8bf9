//! The HTTP listener, plain or TLS (rustls). With TLS, handshakes run in
//! their own tasks with a deadline, so one slow or silent client holds up
//! no other connection; the server only ever sees finished handshakes.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_util::either::Either;

/// What a client gets to finish its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// `[http.tls]`: PEM files, read at start.
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// Reads the certificate and key into a server configuration; the error
/// names the file and what is wrong with it.
pub fn server_config(files: &TlsFiles) -> Result<Arc<rustls::ServerConfig>, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let shown = |p: &Path| p.display().to_string();
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("http.tls.cert {}: {e}", shown(&files.cert)))?;
    if certs.is_empty() {
        return Err(format!(
            "http.tls.cert {}: no CERTIFICATE block in the file",
            shown(&files.cert)
        ));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| format!("http.tls.key {}: {e}", shown(&files.key)))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("http.tls: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            format!(
                "http.tls: the key {} does not fit the certificate {}: {e}",
                shown(&files.key),
                shown(&files.cert)
            )
        })?;
    // The server speaks HTTP/1.1 (WebSocket upgrades included).
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

pub type Io = Either<TcpStream, tokio_rustls::server::TlsStream<TcpStream>>;

/// The listener `axum::serve` takes.
pub enum HttpListener {
    Plain(TcpListener),
    Tls {
        local: SocketAddr,
        ready: mpsc::Receiver<(tokio_rustls::server::TlsStream<TcpStream>, SocketAddr)>,
        _acceptor: tokio_util::task::AbortOnDropHandle<()>,
    },
}

impl HttpListener {
    pub fn new(tcp: TcpListener, tls: Option<Arc<rustls::ServerConfig>>) -> std::io::Result<Self> {
        let Some(cfg) = tls else {
            return Ok(HttpListener::Plain(tcp));
        };
        let local = tcp.local_addr()?;
        // Room for a burst of finished handshakes while the server is busy.
        let (tx, ready) = mpsc::channel(256);
        let task = tokio::spawn(accept_tls(tcp, TlsAcceptor::from(cfg), tx));
        Ok(HttpListener::Tls {
            local,
            ready,
            _acceptor: tokio_util::task::AbortOnDropHandle::new(task),
        })
    }
}

async fn accept_tls(
    mut tcp: TcpListener,
    acceptor: TlsAcceptor,
    ready: mpsc::Sender<(tokio_rustls::server::TlsStream<TcpStream>, SocketAddr)>,
) {
    loop {
        // axum's own accept loop: it waits out errors such as too many
        // open files.
        let (stream, peer) = axum::serve::Listener::accept(&mut tcp).await;
        let acceptor = acceptor.clone();
        let ready = ready.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => {
                    let _ = ready.send((tls, peer)).await;
                }
                // A scanner or a client that does not trust the
                // certificate: its own business, at debug.
                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        });
    }
}

impl axum::serve::Listener for HttpListener {
    type Io = Io;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self {
            HttpListener::Plain(tcp) => {
                let (s, a) = axum::serve::Listener::accept(tcp).await;
                (Either::Left(s), a)
            }
            HttpListener::Tls { ready, .. } => match ready.recv().await {
                Some((s, a)) => (Either::Right(s), a),
                // The acceptor task is gone only when the listener is
                // dropped; until then, nothing more comes.
                None => std::future::pending().await,
            },
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        match self {
            HttpListener::Plain(tcp) => tcp.local_addr(),
            HttpListener::Tls { local, .. } => Ok(*local),
        }
    }
}

/// Small writes (a pop, an ack) go out at once rather than waiting for
/// the peer's delayed ACK.
pub fn no_delay(io: &mut Io) {
    let tcp = match io {
        Either::Left(s) => &*s,
        Either::Right(s) => s.get_ref().0,
    };
    let _ = tcp.set_nodelay(true);
}
