//! A network namespace of the test's own, joined to this one by a veth
//! pair: a process run in it reaches only what the test relays to the
//! host's end, so the test can cut it off from one service and not the
//! others. Needs root (CAP_NET_ADMIN); a test that uses it fails, never
//! skips, without.

use std::process::Command;

pub struct Netns {
    pub name: String,
    /// The host's end of the veth pair, and the namespace's.
    pub host_ip: String,
    pub ns_ip: String,
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().unwrap_or_else(|e| {
        panic!(
            "`ip {}` cannot run (iproute2 is needed): {e}",
            args.join(" ")
        )
    });
    assert!(
        out.status.success(),
        "`ip {}` failed (network namespaces need root): {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Netns {
    /// `slot` (0 to 63) keeps the addresses of tests run at once apart.
    pub fn create(slot: u8) -> Netns {
        let tag = format!("{}{slot}", std::process::id() % 100_000);
        let name = format!("dp{tag}");
        let (host_if, ns_if) = (format!("dph{tag}"), format!("dpn{tag}"));
        // Left over by a killed run of the same pid: start clean.
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        let net = 100 + (std::process::id() % 100) as u8;
        let (host_ip, ns_ip) = (format!("10.{net}.{slot}.1"), format!("10.{net}.{slot}.2"));
        ip(&["netns", "add", &name]);
        let ns = Netns {
            name: name.clone(),
            host_ip: host_ip.clone(),
            ns_ip: ns_ip.clone(),
        };
        ip(&[
            "link", "add", &host_if, "type", "veth", "peer", "name", &ns_if,
        ]);
        ip(&["link", "set", &ns_if, "netns", &name]);
        ip(&["addr", "add", &format!("{host_ip}/30"), "dev", &host_if]);
        ip(&["link", "set", &host_if, "up"]);
        ip(&[
            "netns",
            "exec",
            &name,
            "ip",
            "addr",
            "add",
            &format!("{ns_ip}/30"),
            "dev",
            &ns_if,
        ]);
        ip(&["netns", "exec", &name, "ip", "link", "set", &ns_if, "up"]);
        ip(&["netns", "exec", &name, "ip", "link", "set", "lo", "up"]);
        ns
    }

    /// A command run inside the namespace.
    pub fn command(&self, program: &str) -> tokio::process::Command {
        let mut c = tokio::process::Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // The veth pair goes with the namespace.
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}
