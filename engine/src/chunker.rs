//! Content-defined chunking of file data.
//!
//! Files are cut where their content says (FastCDC), not at fixed offsets, so inserting a byte
//! near the start of a large file changes one or two chunks instead of all of them. Small files
//! are one chunk and never pass through the rolling hash.
//!
//! Memory: the chunker holds at most one maximum-size chunk at a time (it streams), so a
//! file of any size is chunked in bounded memory.

use crate::ids::ObjectId;

/// Smallest chunk FastCDC cuts (except at the end of a file).
pub const MIN_CHUNK: u32 = 16 * 1024;
/// Size FastCDC aims for.
pub const AVG_CHUNK: u32 = 64 * 1024;
/// Largest chunk.
pub const MAX_CHUNK: u32 = 256 * 1024;

/// Bytes the chunker looks at in one go: four maximum chunks, so every window yields at
/// least one final cut.
pub const WINDOW: usize = 4 * MAX_CHUNK as usize;

/// One piece of a file.
#[derive(Debug, Clone)]
pub struct Chunk {
    /// BLAKE3 of `data`.
    pub id: ObjectId,
    /// Offset of the chunk in the file.
    pub offset: u64,
    /// The chunk's bytes.
    pub data: Vec<u8>,
}

/// Splits everything `read` yields into chunks, calling `sink` with each chunk's id and bytes
/// in order. `buf` is scratch space the caller may reuse across files (it grows to
/// [`WINDOW`] once), so chunking a small file allocates nothing.
///
/// The cuts are exactly those of FastCDC over the whole input: a cut found before the end
/// of the window does not depend on the bytes after it (FastCDC scans forward from each
/// chunk's start and takes the first match within `MAX_CHUNK`), and a chunk that reaches the
/// end of the window is only emitted at the end of the input; otherwise it is cut again
/// once more bytes are in.
///
/// Returns the number of bytes read. Stops at the first error of the reader or the sink.
pub fn chunk_read<E: From<std::io::Error>>(
    mut read: impl FnMut(&mut [u8]) -> std::io::Result<usize>,
    buf: &mut Vec<u8>,
    mut sink: impl FnMut(ObjectId, &[u8]) -> Result<(), E>,
) -> Result<u64, E> {
    if buf.len() < WINDOW {
        buf.resize(WINDOW, 0);
    }
    let (mut len, mut eof, mut total) = (0usize, false, 0u64);
    loop {
        while !eof && len < WINDOW {
            match read(&mut buf[len..WINDOW]) {
                Ok(0) => eof = true,
                Ok(n) => len += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(E::from(e)),
            }
        }
        let mut done = 0;
        for c in fastcdc::v2020::FastCDC::new(&buf[..len], MIN_CHUNK, AVG_CHUNK, MAX_CHUNK) {
            let end = c.offset + c.length;
            if end == len && !eof {
                break;
            }
            let data = &buf[c.offset..end];
            sink(ObjectId::of(data), data)?;
            done = end;
        }
        total += done as u64;
        buf.copy_within(done..len, 0);
        len -= done;
        if eof && len == 0 {
            return Ok(total);
        }
    }
}

/// Splits everything `reader` yields into owned chunks (tests and small callers; the
/// capture uses [`chunk_read`] with a reused buffer).
pub fn chunk_stream<R: std::io::Read, E: From<std::io::Error>>(
    mut reader: R,
    mut sink: impl FnMut(Chunk) -> Result<(), E>,
) -> Result<u64, E> {
    let mut offset = 0u64;
    chunk_read(
        |b| reader.read(b),
        &mut Vec::new(),
        |id, data| {
            let c = Chunk {
                id,
                offset,
                data: data.to_vec(),
            };
            offset += data.len() as u64;
            sink(c)
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
        // xorshift: deterministic, incompressible enough for chunk boundaries.
        let mut x = seed | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    fn chunks_of(data: &[u8]) -> Vec<Chunk> {
        let mut out = Vec::new();
        chunk_stream::<_, std::io::Error>(data, |c| {
            out.push(c);
            Ok(())
        })
        .unwrap();
        out
    }

    #[test]
    fn chunks_cover_the_input_exactly_within_bounds() {
        let data = pseudo_random(3 * 1024 * 1024 + 17, 7);
        let chunks = chunks_of(&data);
        let mut rebuilt = Vec::new();
        for (i, c) in chunks.iter().enumerate() {
            assert_eq!(c.offset as usize, rebuilt.len());
            assert!(c.data.len() <= MAX_CHUNK as usize);
            if i + 1 < chunks.len() {
                assert!(c.data.len() >= MIN_CHUNK as usize);
            }
            assert_eq!(c.id, ObjectId::of(&c.data));
            rebuilt.extend_from_slice(&c.data);
        }
        assert_eq!(rebuilt, data);
    }

    #[test]
    fn an_insertion_changes_only_nearby_chunks() {
        let data = pseudo_random(2 * 1024 * 1024, 99);
        let mut edited = data.clone();
        edited.splice(500_000..500_000, b"inserted bytes".iter().copied());
        let before: std::collections::HashSet<_> = chunks_of(&data).iter().map(|c| c.id).collect();
        let after = chunks_of(&edited);
        let new = after.iter().filter(|c| !before.contains(&c.id)).count();
        assert!(new <= 3, "{new} of {} chunks changed", after.len());
    }

    #[test]
    fn windowed_cuts_equal_whole_input_cuts_whatever_the_read_sizes() {
        // Compressible runs and random stretches, longer than several windows.
        let mut data = pseudo_random(5 * WINDOW + 12_345, 3);
        data[700_000..1_900_000].fill(0);
        let whole: Vec<(usize, usize)> =
            fastcdc::v2020::FastCDC::new(&data, MIN_CHUNK, AVG_CHUNK, MAX_CHUNK)
                .map(|c| (c.offset, c.length))
                .collect();
        for step in [1usize, 4093, 65_536, WINDOW, 3 * WINDOW] {
            let (mut pos, mut cuts, mut at) = (0usize, Vec::new(), 0usize);
            let total = chunk_read::<std::io::Error>(
                |b| {
                    let n = b.len().min(step).min(data.len() - pos);
                    b[..n].copy_from_slice(&data[pos..pos + n]);
                    pos += n;
                    Ok(n)
                },
                &mut Vec::new(),
                |id, d| {
                    assert_eq!(id, ObjectId::of(d));
                    assert_eq!(d, &data[at..at + d.len()]);
                    cuts.push((at, d.len()));
                    at += d.len();
                    Ok(())
                },
            )
            .unwrap();
            assert_eq!(total as usize, data.len());
            assert_eq!(cuts, whole, "read size {step}");
        }
    }

    #[test]
    fn empty_and_tiny_inputs() {
        assert!(chunks_of(b"").is_empty());
        let tiny = chunks_of(b"hello");
        assert_eq!(tiny.len(), 1);
        assert_eq!(tiny[0].data, b"hello");
    }
}
