//! A snapshot's tar export through the proxy: the upstream's stream passed on as it arrives.

use app::AppError;
use app::backend::ByteStream;
use futures_util::{StreamExt, TryStreamExt};

use super::backend::RemoteBackend;
use super::upstream::causes;

/// The file name from a `Content-Disposition: attachment; filename="..."`, kept to the
/// characters an export's name uses (it goes back into our own header).
fn file_name_of(disposition: Option<&str>) -> Option<String> {
    let name = disposition?
        .split(';')
        .filter_map(|p| p.trim().strip_prefix("filename="))
        .next()?
        .trim_matches('"');
    let clean = name.replace(
        |c: char| !c.is_ascii_alphanumeric() && !".-_".contains(c),
        "_",
    );
    // No hidden or dot-dot names either.
    let clean = clean.trim_start_matches('.');
    (clean.len() > ".tar".len() && clean.ends_with(".tar")).then(|| clean.to_string())
}

impl RemoteBackend {
    /// `GET .../snapshots/{name}/export` on the upstream. Nothing is buffered here: each
    /// piece goes on as it comes, and an upstream that breaks off (damage it found, a lost
    /// connection) ends the stream with an error, so the browser's transfer fails too.
    pub(super) async fn export_tar(
        &self,
        token: &str,
        id: &str,
        name: &str,
    ) -> Result<(String, ByteStream), AppError> {
        let url = self
            .upstream
            .api(&["containers", id, "snapshots", name, "export"], &[])?;
        let resp = self.send_streaming(token, url, "application/x-tar").await?;
        if !resp.status().is_success() {
            return Err(self.failed(resp).await);
        }
        let file_name = file_name_of(
            resp.headers()
                .get(reqwest::header::CONTENT_DISPOSITION)
                .and_then(|v| v.to_str().ok()),
        )
        .unwrap_or_else(|| service::export::export_file_name(id, name));
        let upstream = self.upstream.clone();
        let stream = resp.bytes_stream().map_err(move |e| {
            std::io::Error::other(format!(
                "the export from {upstream} broke off: {}",
                causes(&e)
            ))
        });
        Ok((file_name, stream.boxed()))
    }
}

#[cfg(test)]
mod tests {
    use super::file_name_of;

    #[test]
    fn the_upstream_file_name_is_kept_only_when_it_is_a_plain_tar_name() {
        assert_eq!(
            file_name_of(Some("attachment; filename=\"web-snap-1.tar\"")).as_deref(),
            Some("web-snap-1.tar")
        );
        assert_eq!(
            file_name_of(Some("attachment; filename=\"../../x\r\n.tar\"")).as_deref(),
            Some("_.._x__.tar")
        );
        assert_eq!(file_name_of(Some("attachment")), None);
        assert_eq!(file_name_of(Some("attachment; filename=\".tar\"")), None);
        assert_eq!(file_name_of(Some("attachment; filename=\"x.html\"")), None);
        assert_eq!(file_name_of(None), None);
    }
}
