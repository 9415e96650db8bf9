//! What this process has used: resident memory and CPU time, from /proc
//! (Linux; zeros elsewhere). The demo and the load benchmark report them.

/// A `Vm…:` figure of /proc/self/status (Linux; zero elsewhere), in MB.
fn status_mb(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Resident memory now (VmRSS), in MB.
pub fn current_rss_mb() -> f64 {
    status_mb("VmRSS:")
}

/// (peak RSS in MB, CPU seconds) of this process, from /proc (Linux; zeros
/// elsewhere).
pub fn process_figures() -> (f64, f64) {
    let rss = status_mb("VmHWM:");
    // utime and stime, in clock ticks (100 per second on Linux).
    let cpu = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let after = s.rsplit_once(')')?.1.to_string();
            let f: Vec<&str> = after.split_whitespace().collect();
            let u: f64 = f.get(11)?.parse().ok()?;
            let k: f64 = f.get(12)?.parse().ok()?;
            Some((u + k) / 100.0)
        })
        .unwrap_or(0.0);
    (rss, cpu)
}
