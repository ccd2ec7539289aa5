//! The process metrics as Prometheus names them (`process_*`), read from
//! `/proc` at each scrape, and the app's `build_info`. A leaf of the web
//! layer: `telemetry` registers them.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// Linux reports process CPU time in ticks of this many per second
/// (`USER_HZ`, fixed by the kernel's interface on every architecture).
const TICKS_PER_SECOND: f64 = 100.0;

/// `process_resident_memory_bytes`, `process_cpu_seconds_total`,
/// `process_open_fds` and `process_start_time_seconds`; a value `/proc`
/// does not give is left out.
#[derive(Debug, Default)]
pub struct ProcessMetrics;

impl Collector for ProcessMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let stat = Stat::read();
        let gauges = [
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                resident_bytes(&status),
            ),
            (
                "process_open_fds",
                "Number of open file descriptors.",
                open_fds(),
            ),
            (
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
                stat.as_ref().and_then(Stat::start_time),
            ),
        ];
        for (name, help, value) in gauges {
            if let Some(value) = value {
                let gauge = ConstGauge::new(value);
                gauge.encode(encoder.encode_descriptor(
                    name,
                    help,
                    None,
                    gauge.metric_type(),
                )?)?;
            }
        }
        if let Some(seconds) = stat.as_ref().and_then(Stat::cpu_seconds) {
            let counter = ConstCounter::new(seconds);
            let name = "process_cpu_seconds";
            let help = "Total user and system CPU time spent in seconds.";
            counter.encode(encoder.encode_descriptor(
                name,
                help,
                None,
                counter.metric_type(),
            )?)?;
        }
        Ok(())
    }
}

/// `VmRSS` of `/proc/self/status`, in bytes.
fn resident_bytes(status: &str) -> Option<f64> {
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024.0)
}

fn open_fds() -> Option<f64> {
    Some(std::fs::read_dir("/proc/self/fd").ok()?.count() as f64)
}

/// The fields of `/proc/self/stat` after the command's name.
struct Stat(Vec<String>);

impl Stat {
    fn read() -> Option<Stat> {
        let text = std::fs::read_to_string("/proc/self/stat").ok()?;
        // The name, in parentheses, may hold spaces: the fields follow the
        // last `)`. Field 3 (the state) is the first of them.
        let (_, rest) = text.rsplit_once(')')?;
        Some(Stat(rest.split_whitespace().map(str::to_owned).collect()))
    }

    /// Field `n` as `proc(5)` numbers them.
    fn field(&self, n: usize) -> Option<f64> {
        self.0.get(n.checked_sub(3)?)?.parse().ok()
    }

    /// `utime` plus `stime`.
    fn cpu_seconds(&self) -> Option<f64> {
        Some((self.field(14)? + self.field(15)?) / TICKS_PER_SECOND)
    }

    /// `starttime` (ticks after boot) plus the boot time of `/proc/stat`.
    fn start_time(&self) -> Option<f64> {
        let boot: f64 = std::fs::read_to_string("/proc/stat")
            .ok()?
            .lines()
            .find_map(|line| line.strip_prefix("btime "))?
            .trim()
            .parse()
            .ok()?;
        Some(boot + self.field(22)? / TICKS_PER_SECOND)
    }
}

/// `build_info{version="…"} 1`: which build is running.
#[derive(Debug)]
pub struct BuildInfo;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Version {
    version: &'static str,
}

impl Collector for BuildInfo {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let info = ConstGauge::new(1i64);
        let mut family = encoder.encode_descriptor(
            "build_info",
            "The running build, by version (always 1)",
            None,
            info.metric_type(),
        )?;
        let version = Version {
            version: env!("CARGO_PKG_VERSION"),
        };
        info.encode(family.encode_family(&version)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_reads_as_itself() {
        let stat = Stat::read().expect("/proc/self/stat");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let started = stat.start_time().unwrap();
        assert!(started <= now + 1.0 && started > now - 3600.0, "{started}");
        // A test binary has run code by now: some CPU time, on record.
        assert!(stat.cpu_seconds().is_some_and(|seconds| seconds > 0.0));
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        assert!(resident_bytes(&status).unwrap() > 1024.0 * 1024.0);
        assert!(open_fds().unwrap() >= 3.0);
    }
}
