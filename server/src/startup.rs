//! Startup checks that turn an unusable environment into one clear sentence.

use std::fs;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use tokio::net::TcpListener;

/// Why the server cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The data directory cannot be created or written.
    #[error(
        "cannot use data directory {path}: {reason}. \
         Choose a writable directory with --data-dir (or SNAPLINE_DATA_DIR)"
    )]
    DataDir { path: PathBuf, reason: String },
    /// The listen address is taken or not allowed.
    #[error("cannot listen on {addr}: {reason}")]
    Listen { addr: SocketAddr, reason: String },
}

/// Creates the data directory if missing (mode 0700: it will hold container roots with device
/// nodes and setuid files that host users must not reach) and proves it is writable by
/// creating, syncing and removing a probe file.
pub fn prepare_data_dir(path: &Path) -> Result<PathBuf, StartupError> {
    let fail = |reason: String| StartupError::DataDir {
        path: path.to_path_buf(),
        reason,
    };
    match fs::metadata(path) {
        Ok(meta) if !meta.is_dir() => return Err(fail("it exists and is not a directory".into())),
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            create_private_dir_all(path).map_err(|e| fail(format!("cannot create it ({e})")))?;
        }
        Err(e) => return Err(fail(format!("cannot inspect it ({e})"))),
    }
    let probe = path.join(format!(".write-probe-{}", std::process::id()));
    let written = fs::File::create(&probe).and_then(|mut f| {
        f.write_all(b"snapline")?;
        f.sync_all()
    });
    let _ = fs::remove_file(&probe);
    written.map_err(|e| fail(format!("it is not writable ({e})")))?;
    fs::canonicalize(path).map_err(|e| fail(format!("cannot resolve it ({e})")))
}

fn create_private_dir_all(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
}

/// Binds the listening socket, explaining the usual failures.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, StartupError> {
    TcpListener::bind(addr).await.map_err(|e| {
        let reason = match e.kind() {
            io::ErrorKind::AddrInUse => "the address is already in use; stop the program \
                 that holds it or choose another address with --listen (or SNAPLINE_LISTEN)"
                .to_string(),
            io::ErrorKind::PermissionDenied => {
                format!("permission denied ({e}); ports below 1024 need privileges")
            }
            io::ErrorKind::AddrNotAvailable => {
                format!("this machine has no such address ({e})")
            }
            _ => e.to_string(),
        };
        StartupError::Listen { addr, reason }
    })
}

/// Finds the dashboard's compiled assets: the explicit option, else `../site` beside the
/// executable (the layout `cargo leptos build` produces), else `./target/site`.
pub fn resolve_site_root(explicit: Option<PathBuf>) -> PathBuf {
    if let Some(p) = explicit {
        return p;
    }
    if let Some(beside_exe) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent()?.parent().map(|p| p.join("site")))
        .filter(|p| p.join("pkg").is_dir())
    {
        return beside_exe;
    }
    PathBuf::from("target/site")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_a_missing_data_dir_privately() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b/data");
        let resolved = prepare_data_dir(&dir).unwrap();
        assert!(resolved.is_absolute());
        let mode = fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        // The probe file is gone.
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
    }

    #[test]
    fn refuses_a_file_as_data_dir() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("file");
        fs::write(&file, b"x").unwrap();
        let err = prepare_data_dir(&file).unwrap_err().to_string();
        assert!(err.contains("not a directory"), "{err}");
        assert!(err.contains("--data-dir"), "{err}");
    }

    #[test]
    fn refuses_a_data_dir_below_a_file() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("file");
        fs::write(&file, b"x").unwrap();
        let err = prepare_data_dir(&file.join("data"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot"), "{err}");
    }

    #[tokio::test]
    async fn explains_a_taken_port() {
        let held = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = held.local_addr().unwrap();
        let err = bind(addr).await.unwrap_err().to_string();
        assert!(err.contains("already in use"), "{err}");
        assert!(err.contains("--listen"), "{err}");
    }
}
