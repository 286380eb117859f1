//! A container's OCI runtime configuration (`config.json` in its bundle), built with the
//! `oci-spec` crate. What a container gets, and where each choice comes from:
//!
//! - namespaces: pid, ipc, uts, mount and network (only loopback, which runc brings up);
//!   no user namespace (the root's owners are the host's, as Snapline restores them);
//! - the container's live tree as the rootfs, writable; `/proc`, a tmpfs `/dev` with
//!   `/dev/pts` (new instance), `/dev/shm` and `/dev/mqueue`, and read-only `/sys` and
//!   `/sys/fs/cgroup`, with Docker's options (moby `daemon/pkg/oci/defaults.go`);
//! - Docker's masked and read-only paths (same file; the masked list is today's, with
//!   `/proc/interrupts` and `/sys/devices/virtual/powercap` from moby's advisories);
//! - Docker's 14 default capabilities (moby `daemon/pkg/oci/caps/defaults.go`) in the
//!   bounding, effective and permitted sets, none inheritable or ambient;
//!   `no_new_privileges`;
//! - cgroup limits from [`ContainerLimits`]: memory with no swap, pids, and a CPU quota
//!   over a 100 ms period; every device denied except runc's default list (null, zero,
//!   full, random, urandom, tty, ptmx, pts);
//! - `RLIMIT_NOFILE` 1024 soft, the server's own hard limit at most (raising it needs
//!   `CAP_SYS_RESOURCE`, which a server may lack, and then runc refuses to start);
//! - an init (`tini`) as pid 1 when one is installed, bound read-only at `/dev/init` (on the
//!   `/dev` tmpfs, so nothing lands in the container's tree): a command as pid 1 ignores
//!   SIGTERM unless it handles it, and nobody would reap its orphans.
//!
//! `oci-spec`'s builders fill every field left unset from that type's `Default`, which is
//! not empty (capabilities default to three, namespaces include cgroup, masked paths to a
//! list): every field that matters is set here explicitly.

use std::path::Path;

use oci_spec::OciSpecError;
use oci_spec::runtime::{
    Capabilities, Capability, LinuxBuilder, LinuxCapabilitiesBuilder, LinuxCpuBuilder,
    LinuxDeviceCgroupBuilder, LinuxMemoryBuilder, LinuxNamespaceBuilder, LinuxNamespaceType,
    LinuxPidsBuilder, LinuxResourcesBuilder, Mount, MountBuilder, PosixRlimitBuilder,
    PosixRlimitType, ProcessBuilder, RootBuilder, Spec, SpecBuilder, UserBuilder,
};
use types::ContainerLimits;

/// Docker's default capabilities (moby `daemon/pkg/oci/caps/defaults.go`).
pub const CAPABILITIES: [Capability; 14] = [
    Capability::Chown,
    Capability::DacOverride,
    Capability::Fsetid,
    Capability::Fowner,
    Capability::Mknod,
    Capability::NetRaw,
    Capability::Setgid,
    Capability::Setuid,
    Capability::Setfcap,
    Capability::Setpcap,
    Capability::NetBindService,
    Capability::SysChroot,
    Capability::Kill,
    Capability::AuditWrite,
];

/// Paths hidden from the container (moby `defaultLinuxMaskedPaths`).
pub const MASKED_PATHS: [&str; 12] = [
    "/proc/acpi",
    "/proc/asound",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/sys/devices/virtual/powercap",
    "/sys/firmware",
];

/// Paths the container may read but not write (moby `defaultLinuxReadonlyPaths`).
pub const READONLY_PATHS: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// The CFS period the CPU quota is a share of, in microseconds (the kernel's default).
pub const CPU_PERIOD_US: u64 = 100_000;

/// The environment of every container process.
pub const ENV: [&str; 3] = [
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME=/root",
    "TERM=xterm",
];

/// Where the init is bound inside the container.
pub const INIT_PATH: &str = "/dev/init";

/// What one container's configuration is made from.
#[derive(Debug, Clone)]
pub struct SpecInput<'a> {
    /// The cgroup's name below `/snapline` (the container id, or an exec's own id).
    pub cgroup: &'a str,
    /// The container's live tree (absolute).
    pub root: &'a Path,
    pub hostname: &'a str,
    /// The command; the init is put in front of it.
    pub argv: &'a [String],
    pub limits: &'a ContainerLimits,
    /// The init binary on the host (a static `tini`), if installed.
    pub init: Option<&'a Path>,
    /// The hard `RLIMIT_NOFILE` the server itself has (the container's may not exceed it).
    pub nofile_hard: u64,
}

fn strings<'a>(v: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    v.into_iter().map(str::to_string).collect()
}

fn mount(dest: &str, typ: &str, src: &str, opts: &[&str]) -> Result<Mount, OciSpecError> {
    MountBuilder::default()
        .destination(dest)
        .typ(typ)
        .source(src)
        .options(strings(opts.iter().copied()))
        .build()
}

/// The configuration of one container. Errors only if `oci-spec` refuses a value, which
/// the callers' validated inputs never are.
pub fn container_spec(input: &SpecInput<'_>) -> Result<Spec, OciSpecError> {
    let mut mounts = vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"])?,
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        )?,
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        )?,
        mount(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
        )?,
        mount(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        )?,
        mount(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", "ro"],
        )?,
        mount(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &["nosuid", "noexec", "nodev", "relatime", "ro"],
        )?,
    ];
    let mut args = Vec::with_capacity(input.argv.len() + 2);
    if let Some(init) = input.init {
        mounts.push(mount(
            INIT_PATH,
            "bind",
            &init.to_string_lossy(),
            &["bind", "ro", "nosuid", "nodev"],
        )?);
        args.extend([INIT_PATH.to_string(), "--".to_string()]);
    }
    args.extend(input.argv.iter().cloned());

    let caps: Capabilities = CAPABILITIES.into_iter().collect();
    let process = ProcessBuilder::default()
        .terminal(false)
        .user(UserBuilder::default().uid(0u32).gid(0u32).build()?)
        .args(args)
        .env(strings(ENV))
        .cwd("/")
        .capabilities(
            LinuxCapabilitiesBuilder::default()
                .bounding(caps.clone())
                .effective(caps.clone())
                .permitted(caps)
                .inheritable(Capabilities::new())
                .ambient(Capabilities::new())
                .build()?,
        )
        .rlimits(vec![
            PosixRlimitBuilder::default()
                .typ(PosixRlimitType::RlimitNofile)
                .hard(input.nofile_hard)
                .soft(1024u64.min(input.nofile_hard))
                .build()?,
        ])
        .no_new_privileges(true)
        .build()?;

    let limits = input.limits;
    let memory = i64::try_from(limits.memory_mb.saturating_mul(1024 * 1024)).unwrap_or(i64::MAX);
    let resources = LinuxResourcesBuilder::default()
        .devices(vec![
            LinuxDeviceCgroupBuilder::default()
                .allow(false)
                .access("rwm")
                .build()?,
        ])
        // memory.memsw (limit + swap) equal to the limit: no swap.
        .memory(
            LinuxMemoryBuilder::default()
                .limit(memory)
                .swap(memory)
                .build()?,
        )
        .pids(
            LinuxPidsBuilder::default()
                .limit(i64::try_from(limits.pids).unwrap_or(i64::MAX))
                .build()?,
        )
        .cpu(
            LinuxCpuBuilder::default()
                .quota(cpu_quota_us(limits.cpus))
                .period(CPU_PERIOD_US)
                .build()?,
        )
        .build()?;
    let namespaces = [
        LinuxNamespaceType::Pid,
        LinuxNamespaceType::Ipc,
        LinuxNamespaceType::Uts,
        LinuxNamespaceType::Mount,
        LinuxNamespaceType::Network,
    ]
    .into_iter()
    .map(|t| LinuxNamespaceBuilder::default().typ(t).build())
    .collect::<Result<Vec<_>, _>>()?;
    let linux = LinuxBuilder::default()
        // Absolute: a relative path would nest under the server's own cgroup, and a service
        // manager restarting the server would then take the containers with it.
        .cgroups_path(format!("/snapline/{}", input.cgroup))
        .namespaces(namespaces)
        .resources(resources)
        .masked_paths(strings(MASKED_PATHS))
        .readonly_paths(strings(READONLY_PATHS))
        .build()?;
    SpecBuilder::default()
        .version("1.0.2")
        .root(
            RootBuilder::default()
                .path(input.root)
                .readonly(false)
                .build()?,
        )
        .hostname(input.hostname)
        .process(process)
        .mounts(mounts)
        .linux(linux)
        .build()
}

/// The CFS quota for `cpus` CPUs, in microseconds per [`CPU_PERIOD_US`].
pub fn cpu_quota_us(cpus: f64) -> i64 {
    (cpus * CPU_PERIOD_US as f64).round() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input<'a>(root: &'a Path, argv: &'a [String], limits: &'a ContainerLimits) -> SpecInput<'a> {
        SpecInput {
            cgroup: "0123456789abcdef01234567",
            root,
            hostname: "web",
            argv,
            limits,
            init: Some(Path::new("/usr/bin/tini-static")),
            nofile_hard: 20_000,
        }
    }

    /// The JSON runc reads holds exactly what the module's header promises; in particular
    /// none of `oci-spec`'s non-empty defaults slip in.
    #[test]
    fn the_config_is_dockers_defaults_with_our_limits() {
        let argv = vec!["/bin/sh".to_string(), "-c".into(), "sleep 1".into()];
        let limits = ContainerLimits {
            memory_mb: 512,
            pids: 256,
            cpus: 1.5,
        };
        let root = Path::new("/data/containers/x/root");
        let spec = container_spec(&input(root, &argv, &limits)).unwrap();
        let v = serde_json::to_value(&spec).unwrap();

        assert_eq!(v["root"]["path"], "/data/containers/x/root");
        assert_eq!(v["root"]["readonly"], false);
        assert_eq!(v["hostname"], "web");
        let p = &v["process"];
        assert_eq!(p["terminal"], false);
        assert_eq!(
            p["args"],
            serde_json::json!(["/dev/init", "--", "/bin/sh", "-c", "sleep 1"])
        );
        assert_eq!(p["noNewPrivileges"], true);
        assert_eq!(p["user"]["uid"], 0);
        for set in ["bounding", "effective", "permitted"] {
            let mut got: Vec<String> =
                serde_json::from_value(p["capabilities"][set].clone()).unwrap();
            got.sort();
            assert_eq!(got.len(), 14, "{set}: {got:?}");
            assert!(got.contains(&"CAP_NET_BIND_SERVICE".to_string()));
            assert!(!got.contains(&"CAP_SYS_ADMIN".to_string()), "{set}");
        }
        for set in ["inheritable", "ambient"] {
            let got = &p["capabilities"][set];
            assert!(
                got.is_null() || got.as_array().is_some_and(|a| a.is_empty()),
                "{set}: {got}"
            );
        }
        assert_eq!(p["rlimits"][0]["type"], "RLIMIT_NOFILE");
        assert_eq!(p["rlimits"][0]["hard"], 20_000);
        assert_eq!(p["rlimits"][0]["soft"], 1024);

        let l = &v["linux"];
        assert_eq!(l["cgroupsPath"], "/snapline/0123456789abcdef01234567");
        let mut ns: Vec<&str> = l["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap())
            .collect();
        ns.sort();
        assert_eq!(ns, ["ipc", "mount", "network", "pid", "uts"]);
        let r = &l["resources"];
        assert_eq!(r["memory"]["limit"], 512 * 1024 * 1024);
        assert_eq!(r["memory"]["swap"], 512 * 1024 * 1024);
        assert_eq!(r["pids"]["limit"], 256);
        assert_eq!(r["cpu"]["quota"], 150_000);
        assert_eq!(r["cpu"]["period"], 100_000);
        assert_eq!(r["devices"][0]["allow"], false);
        assert_eq!(
            l["maskedPaths"].as_array().unwrap().len(),
            MASKED_PATHS.len()
        );
        assert!(
            l["maskedPaths"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m == "/proc/kcore")
        );
        assert_eq!(
            l["readonlyPaths"].as_array().unwrap().len(),
            READONLY_PATHS.len()
        );

        let mounts = v["mounts"].as_array().unwrap();
        let sys = mounts.iter().find(|m| m["destination"] == "/sys").unwrap();
        assert!(sys["options"].as_array().unwrap().iter().any(|o| o == "ro"));
        let init = mounts
            .iter()
            .find(|m| m["destination"] == INIT_PATH)
            .unwrap();
        assert_eq!(init["source"], "/usr/bin/tini-static");
    }

    /// Without an init the command is pid 1 as given; a server with a low hard limit gives
    /// its containers no more than it has.
    #[test]
    fn no_init_and_a_low_file_limit() {
        let argv = vec!["/bin/true".to_string()];
        let limits = ContainerLimits::default();
        let root = Path::new("/r");
        let mut i = input(root, &argv, &limits);
        i.init = None;
        i.nofile_hard = 512;
        let v = serde_json::to_value(container_spec(&i).unwrap()).unwrap();
        assert_eq!(v["process"]["args"], serde_json::json!(["/bin/true"]));
        assert_eq!(v["process"]["rlimits"][0]["soft"], 512);
        assert!(
            !v["mounts"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["destination"] == INIT_PATH)
        );
        assert_eq!(cpu_quota_us(0.1), 10_000);
    }
}
