//! Figures as the benchmarks print them.

/// The value at `p` (0.0 to 1.0) of timings sorted in ascending order; nearest rank.
///
/// Panics when `sorted` is empty.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// The median of timings in any order: the middle one, or the upper of the two middle ones
/// for an even count (the nearest rank, as [`percentile`] at 0.5); 0.0 when there are none.
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        0.0
    } else {
        percentile(&v, 0.5)
    }
}

/// Bytes in decimal megabytes with one decimal, e.g. `12.3 MB` (always MB, so that a
/// table's column compares at a glance; [`human_bytes`] picks the unit).
pub fn mb(b: u64) -> String {
    format!("{:.1} MB", b as f64 / 1e6)
}

pub use types::units::human_bytes;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_the_nearest_rank() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(percentile(&v, 0.5), 3.0);
        assert_eq!(percentile(&v, 0.99), 5.0);
        assert_eq!(percentile(&v, 0.0), 1.0);
        assert_eq!(percentile(&[9.0], 0.95), 9.0);
    }

    #[test]
    fn the_median_is_the_middle_or_the_upper_middle() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 3.0);
        assert_eq!(median(vec![2.0, 1.0]), 2.0);
        assert_eq!(median(vec![7.5]), 7.5);
        assert_eq!(median(Vec::new()), 0.0);
    }

    #[test]
    fn megabytes_have_one_decimal() {
        assert_eq!(mb(0), "0.0 MB");
        assert_eq!(mb(5 << 20), "5.2 MB");
        assert_eq!(mb(1_234_567_890), "1234.6 MB");
    }
}
