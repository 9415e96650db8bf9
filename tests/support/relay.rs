//! A TCP relay that can be cut: once cut it forwards nothing and answers
//! nothing, as a lost route does (the sockets stay open, no reset). It can
//! also note when what goes through it toward the server holds a pattern
//! (an originate command, say), by the wall clock, to compare with times
//! the store wrote.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Times in ms since the epoch, noted by the relay's pipes.
type Times = Arc<Mutex<Vec<i64>>>;

pub struct Relay {
    pub addr: std::net::SocketAddr,
    cut: Arc<AtomicBool>,
    seen: Times,
    closed: Times,
}

impl Relay {
    /// Listens on `listen` (port 0: any) and relays to `to`; `tap`: the
    /// bytes whose passing toward `to` is noted.
    pub async fn start(listen: &str, to: &str, tap: Option<&'static [u8]>) -> Relay {
        let l = TcpListener::bind(listen)
            .await
            .unwrap_or_else(|e| panic!("relay listens on {listen}: {e}"));
        let addr = l.local_addr().expect("relay address");
        let cut = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let closed = Arc::new(Mutex::new(Vec::new()));
        let (to, c, s, e) = (to.to_string(), cut.clone(), seen.clone(), closed.clone());
        tokio::spawn(async move {
            while let Ok((a, _)) = l.accept().await {
                let Ok(b) = TcpStream::connect(&to).await else {
                    continue;
                };
                let (ar, aw) = a.into_split();
                let (br, bw) = b.into_split();
                let e = e.clone();
                let tapped = tap.map(|t| (t, s.clone()));
                let c2 = c.clone();
                tokio::spawn(async move {
                    pipe(ar, bw, c2, tapped).await;
                    if let Ok(mut e) = e.lock() {
                        e.push(chrono::Utc::now().timestamp_millis());
                    }
                });
                tokio::spawn(pipe(br, aw, c.clone(), None));
            }
        });
        Relay {
            addr,
            cut,
            seen,
            closed,
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// From now on nothing passes, either way.
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
    }

    /// When (ms since the epoch) clients closed their connections (or
    /// their side broke), in order.
    pub fn closed(&self) -> Vec<i64> {
        self.closed.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// When (ms since the epoch) the tapped pattern passed, in order.
    pub fn seen(&self) -> Vec<i64> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

async fn pipe(
    mut r: tokio::net::tcp::OwnedReadHalf,
    mut w: tokio::net::tcp::OwnedWriteHalf,
    cut: Arc<AtomicBool>,
    tap: Option<(&'static [u8], Times)>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match r.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if cut.load(Ordering::SeqCst) {
            // Swallowed; the socket stays open, as a black hole keeps it.
            std::future::pending::<()>().await;
        }
        if let Some((pattern, seen)) = &tap {
            let hits = buf[..n]
                .windows(pattern.len())
                .filter(|w| w.eq_ignore_ascii_case(pattern))
                .count();
            if hits > 0
                && let Ok(mut s) = seen.lock()
            {
                let now = chrono::Utc::now().timestamp_millis();
                s.extend(std::iter::repeat_n(now, hits));
            }
        }
        if w.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
