//! Quantities as people read them, the same on the server, in the browser and in the
//! benchmarks' reports.

/// Bytes as people read them, in decimal units with one decimal: `1.5 GB`, `320 MB`. Integer arithmetic only: float
/// formatting would add its whole machinery to the browser's bundle.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut unit = 0;
    let mut scale: u128 = 1;
    while u128::from(n) >= scale * 1000 && unit < UNITS.len() - 1 {
        scale *= 1000;
        unit += 1;
    }
    if unit == 0 {
        return format!("{n} B");
    }
    let tenths = (u128::from(n) * 10 + scale / 2) / scale;
    format!("{}.{} {}", tenths / 10, tenths % 10, UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_units_with_one_decimal() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1_000), "1.0 kB");
        assert_eq!(human_bytes(1_550_000), "1.6 MB");
        assert_eq!(human_bytes(u64::MAX), "18446.7 PB");
    }
}
