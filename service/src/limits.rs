//! The bounds of a container's [`ContainerLimits`], checked before anything is stored or
//! run: a value out of them is a 400 that names the field, the value and the range.

use crate::error::ServiceError;
pub use types::ContainerLimits;

/// Memory bounds in MiB: below 16 not even a shell starts; 1 TiB is far above any host
/// this runs on (the kernel accepts a limit above the host's memory: it never binds).
pub const MEMORY_MB: std::ops::RangeInclusive<u64> = 16..=1_048_576;
/// Process bounds: a shell and a command need a few; the kernel's default `pid_max` on
/// small hosts is 32768 and on large ones 4194304.
pub const PIDS: std::ops::RangeInclusive<u64> = 8..=4_194_304;
/// The smallest CPU share: 1 ms of CPU per 100 ms period (the kernel's minimum quota).
pub const MIN_CPUS: f64 = 0.01;

/// This host's CPU count: the most CPUs a container may be given (a share above it would
/// never bind, so it is refused as a mistake).
pub fn host_cpus() -> f64 {
    std::thread::available_parallelism().map_or(1, |n| n.get()) as f64
}

/// Checks `l` against the bounds and [`host_cpus`].
pub fn check(l: &ContainerLimits) -> Result<(), ServiceError> {
    let host_cpus = host_cpus();
    if !MEMORY_MB.contains(&l.memory_mb) {
        return Err(ServiceError::bad_request(format!(
            "limits.memory_mb must be between {} and {} MiB (got {})",
            MEMORY_MB.start(),
            MEMORY_MB.end(),
            l.memory_mb
        )));
    }
    if !PIDS.contains(&l.pids) {
        return Err(ServiceError::bad_request(format!(
            "limits.pids must be between {} and {} (got {})",
            PIDS.start(),
            PIDS.end(),
            l.pids
        )));
    }
    if !(l.cpus.is_finite() && l.cpus >= MIN_CPUS && l.cpus <= host_cpus) {
        return Err(ServiceError::bad_request(format!(
            "limits.cpus must be between {MIN_CPUS} and {host_cpus} (this server's CPUs; got {})",
            l.cpus
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_pass_and_each_bound_is_named() {
        check(&ContainerLimits::default()).unwrap();
        let bad = [
            (
                ContainerLimits {
                    memory_mb: 8,
                    ..Default::default()
                },
                "limits.memory_mb",
            ),
            (
                ContainerLimits {
                    pids: 0,
                    ..Default::default()
                },
                "limits.pids",
            ),
            (
                ContainerLimits {
                    cpus: 0.0,
                    ..Default::default()
                },
                "limits.cpus",
            ),
            (
                ContainerLimits {
                    cpus: 100_000.0,
                    ..Default::default()
                },
                "limits.cpus",
            ),
            (
                ContainerLimits {
                    cpus: f64::INFINITY,
                    ..Default::default()
                },
                "limits.cpus",
            ),
        ];
        for (l, field) in bad {
            let e = check(&l).unwrap_err();
            assert_eq!(e.kind, types::ErrorKind::BadRequest);
            assert!(e.message.starts_with(field), "{}", e.message);
        }
        check(&ContainerLimits {
            memory_mb: 16,
            pids: 8,
            cpus: 0.01,
        })
        .unwrap();
    }

    /// A create body may give any subset; the rest are the defaults. Unknown fields are
    /// refused (a typo such as `memory` must not silently mean the default).
    #[test]
    fn partial_bodies_take_defaults() {
        let l: ContainerLimits = serde_json::from_str(r#"{"pids": 64}"#).unwrap();
        assert_eq!(
            l,
            ContainerLimits {
                pids: 64,
                ..Default::default()
            }
        );
        assert!(serde_json::from_str::<ContainerLimits>(r#"{"memory": 64}"#).is_err());
    }
}
