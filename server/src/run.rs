//! The API docs' "Run": one request to the REST API on behalf of the signed-in user, and its
//! answer read into what the widget shows.

use std::time::Duration;

use app::model::RUN_SHOW_LIMIT;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};

/// How long an answer may take to arrive in full.
const ANSWER_TIME: Duration = Duration::from_secs(120);
/// How long an event stream (which never ends by itself) is read before it is cut.
const STREAM_TIME: Duration = Duration::from_secs(3);

/// Reads an answer's body: at most [`RUN_SHOW_LIMIT`] bytes as text, and whether more
/// existed or the reading was cut (an event stream after [`STREAM_TIME`], a slow answer
/// after [`ANSWER_TIME`], a broken stream).
pub async fn read_answer<S, E>(mut stream: S, event_stream: bool) -> (String, bool)
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    let mut buf: Vec<u8> = Vec::new();
    let mut cut = false;
    let read = async {
        while let Some(piece) = stream.next().await {
            match piece {
                Ok(b) => {
                    buf.extend_from_slice(&b);
                    if buf.len() > RUN_SHOW_LIMIT {
                        return true;
                    }
                }
                Err(_) => return true,
            }
        }
        false
    };
    let limit = if event_stream {
        STREAM_TIME
    } else {
        ANSWER_TIME
    };
    match tokio::time::timeout(limit, read).await {
        Ok(more) => cut |= more,
        Err(_) => cut = true,
    }
    if buf.len() > RUN_SHOW_LIMIT {
        buf.truncate(RUN_SHOW_LIMIT);
        cut = true;
    }
    (String::from_utf8_lossy(&buf).into_owned(), cut)
}

/// Whether a `Content-Type` is an event stream.
pub fn is_event_stream(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|c| c.starts_with("text/event-stream"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn long_answers_are_cut_and_endless_streams_end() {
        let big = futures_util::stream::iter(vec![Ok::<_, std::io::Error>(Bytes::from(vec![
                b'a';
                RUN_SHOW_LIMIT
                    + 10
            ]))]);
        let (text, cut) = read_answer(big, false).await;
        assert_eq!((text.len(), cut), (RUN_SHOW_LIMIT, true));

        let small = futures_util::stream::iter(vec![Ok::<_, std::io::Error>(Bytes::from("{}"))]);
        assert_eq!(read_answer(small, false).await, ("{}".to_string(), false));

        let endless =
            futures_util::stream::iter(vec![Ok::<_, std::io::Error>(Bytes::from("event: x\n\n"))])
                .chain(futures_util::stream::pending());
        let (text, cut) = read_answer(endless, true).await;
        assert_eq!((text.as_str(), cut), ("event: x\n\n", true));
    }
}
