//! A small deterministic generator, so that every run benchmarks the same trees and data.

/// xorshift64: not for anything secret, only reproducible.
pub struct XorShift(pub u64);

impl XorShift {
    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// `n` pseudo-random bytes.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_bytes() {
        assert_eq!(XorShift(7).bytes(64), XorShift(7).bytes(64));
        assert_ne!(XorShift(7).bytes(64), XorShift(8).bytes(64));
    }
}
