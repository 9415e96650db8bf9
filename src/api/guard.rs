//! Limits per client address on what a caller without a good token can
//! do: agent sockets not yet signed in, and failed sign-ins (an agent
//! socket's token, an API bearer token). A flood from one address is turned
//! away with 429 before the store is asked anything, while pages already
//! signed in and callers from other addresses go on.
//!
//! Behind a reverse proxy every caller has the proxy's address: put the
//! proxy's own limits in front, or these apply to all callers together.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limits {
    /// Agent sockets open at once from one address and not yet signed in.
    pub unauthenticated_sockets: usize,
    /// Failed sign-ins from one address within `window` before it is
    /// locked out for `lockout`.
    pub failures: u32,
    pub window: Duration,
    pub lockout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            unauthenticated_sockets: 16,
            failures: 20,
            window: Duration::from_secs(60),
            lockout: Duration::from_secs(60),
        }
    }
}

/// The caller's address, put on every request by `peer` (unspecified when
/// the server was not started with connection info: a test's router).
#[derive(Clone, Copy, Debug)]
pub struct Peer(pub IpAddr);

#[derive(Default)]
struct Failures {
    since: Option<Instant>,
    count: u32,
    locked_until: Option<Instant>,
}

#[derive(Default)]
struct State {
    pending: HashMap<IpAddr, usize>,
    failures: HashMap<IpAddr, Failures>,
}

/// What the guard turned away, for `/metrics`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Refused {
    pub sockets: u64,
    pub locked_out: u64,
    pub failed_sign_ins: u64,
}

#[derive(Clone, Default)]
pub struct Guard {
    limits: Limits,
    state: Arc<Mutex<State>>,
    sockets: Arc<AtomicU64>,
    locked_out: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
}

/// An unauthenticated socket's place; given back when dropped.
pub struct Slot {
    guard: Guard,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut s) = self.guard.state.lock()
            && let Some(n) = s.pending.get_mut(&self.ip)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                s.pending.remove(&self.ip);
            }
        }
    }
}

impl Guard {
    pub fn new(limits: Limits) -> Guard {
        Guard {
            limits,
            ..Guard::default()
        }
    }

    /// A place for a socket that has yet to sign in, or None: too many
    /// from this address already.
    pub fn socket(&self, ip: IpAddr) -> Option<Slot> {
        let mut s = self.state.lock().ok()?;
        let n = s.pending.entry(ip).or_default();
        if *n >= self.limits.unauthenticated_sockets {
            drop(s);
            self.sockets.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        *n += 1;
        Some(Slot {
            guard: self.clone(),
            ip,
        })
    }

    /// True while the address is locked out after too many failures.
    pub fn locked(&self, ip: IpAddr, now: Instant) -> bool {
        let locked = self.state.lock().is_ok_and(|s| {
            s.failures
                .get(&ip)
                .and_then(|f| f.locked_until)
                .is_some_and(|until| now < until)
        });
        if locked {
            self.locked_out.fetch_add(1, Ordering::Relaxed);
        }
        locked
    }

    /// A sign-in from the address failed.
    pub fn failed(&self, ip: IpAddr, now: Instant) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        let Ok(mut s) = self.state.lock() else {
            return;
        };
        // However many addresses try, the table keeps only live entries.
        if s.failures.len() > 10_000 {
            let (window, lockout) = (self.limits.window, self.limits.lockout);
            s.failures.retain(|_, f| {
                f.locked_until.is_some_and(|u| now < u)
                    || f.since
                        .is_some_and(|t| now.duration_since(t) < window.max(lockout))
            });
        }
        let f = s.failures.entry(ip).or_default();
        match f.since {
            Some(t) if now.duration_since(t) < self.limits.window => f.count += 1,
            _ => {
                f.since = Some(now);
                f.count = 1;
            }
        }
        if f.count >= self.limits.failures {
            f.locked_until = Some(now + self.limits.lockout);
            f.since = None;
            f.count = 0;
        }
    }

    pub fn refused(&self) -> Refused {
        Refused {
            sockets: self.sockets.load(Ordering::Relaxed),
            locked_out: self.locked_out.load(Ordering::Relaxed),
            failed_sign_ins: self.failed.load(Ordering::Relaxed),
        }
    }
}

/// The middleware that puts the caller's address on the request.
pub async fn peer(
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let ip = req
        .extensions()
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|i| i.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    req.extensions_mut().insert(Peer(ip));
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));

    fn guard() -> Guard {
        Guard::new(Limits {
            unauthenticated_sockets: 2,
            failures: 3,
            window: Duration::from_secs(10),
            lockout: Duration::from_secs(30),
        })
    }

    #[test]
    fn unauthenticated_sockets_are_counted_per_address_and_given_back() {
        let g = guard();
        let a1 = g.socket(A).expect("first");
        let _a2 = g.socket(A).expect("second");
        assert!(g.socket(A).is_none(), "third from A");
        assert!(g.socket(B).is_some(), "B has its own count");
        drop(a1);
        assert!(g.socket(A).is_some(), "a place came back");
        assert_eq!(g.refused().sockets, 1);
    }

    #[test]
    fn failures_lock_an_address_out_for_a_while() {
        let g = guard();
        let t0 = Instant::now();
        g.failed(A, t0);
        g.failed(A, t0 + Duration::from_secs(1));
        assert!(!g.locked(A, t0 + Duration::from_secs(1)));
        g.failed(A, t0 + Duration::from_secs(2));
        assert!(g.locked(A, t0 + Duration::from_secs(3)));
        assert!(!g.locked(B, t0 + Duration::from_secs(3)));
        assert!(
            !g.locked(A, t0 + Duration::from_secs(33)),
            "the lockout ends"
        );
        // Failures spread wider than the window never lock.
        for i in 0..10 {
            g.failed(B, t0 + Duration::from_secs(11 * i));
        }
        assert!(!g.locked(B, t0 + Duration::from_secs(100)));
    }
}
