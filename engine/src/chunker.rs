//! Content-defined chunking of file data.
//!
//! Files are cut where their content says (FastCDC), not at fixed offsets, so inserting a byte
//! near the start of a large file changes one or two chunks instead of all of them. Small files
//! are one chunk and never pass through the rolling hash.
//!
//! Memory: the chunker holds at most one maximum-size chunk at a time (it streams), so a
//! file of any size is chunked in bounded memory.

use std::io::Read;

use crate::ids::ObjectId;

/// Smallest chunk FastCDC cuts (except at the end of a file).
pub const MIN_CHUNK: u32 = 16 * 1024;
/// Size FastCDC aims for.
pub const AVG_CHUNK: u32 = 64 * 1024;
/// Largest chunk.
pub const MAX_CHUNK: u32 = 256 * 1024;

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

/// Splits everything `reader` yields into chunks, calling `sink` for each in order.
///
/// Returns the number of bytes read. Stops at the first error of the reader or the sink.
pub fn chunk_stream<R: Read, E: From<std::io::Error>>(
    reader: R,
    mut sink: impl FnMut(Chunk) -> Result<(), E>,
) -> Result<u64, E> {
    let mut total = 0u64;
    let cdc = fastcdc::v2020::StreamCDC::new(reader, MIN_CHUNK, AVG_CHUNK, MAX_CHUNK);
    for piece in cdc {
        let piece = piece.map_err(|e| match e {
            fastcdc::v2020::Error::IoError(io) => E::from(io),
            other => E::from(std::io::Error::other(other.to_string())),
        })?;
        total += piece.length as u64;
        sink(Chunk {
            id: ObjectId::of(&piece.data),
            offset: piece.offset,
            data: piece.data,
        })?;
    }
    Ok(total)
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
    fn empty_and_tiny_inputs() {
        assert!(chunks_of(b"").is_empty());
        let tiny = chunks_of(b"hello");
        assert_eq!(tiny.len(), 1);
        assert_eq!(tiny[0].data, b"hello");
    }
}
