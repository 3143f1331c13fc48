//! Seeded synthetic weights: each row of each tensor has its own random
//! stream, derived from (seed, tensor index, row), so the bytes never depend
//! on how the work is chunked or on the number of threads. Values are
//! converted to the tensor's type by ggml's own quantizer.

use crate::ggml::{quantize_into, GgmlError, GgmlType};
pub use crate::rng::SplitMix64;

use super::preset::Init;

/// The random stream of one row of one tensor.
pub fn row_stream(seed: u64, tensor: usize, row: u64) -> SplitMix64 {
    let mut m = SplitMix64::new(seed);
    let a = m.next_u64() ^ (tensor as u64).wrapping_mul(0xD6E8_FEB8_6659_FD93);
    let mut m = SplitMix64::new(a);
    let b = m.next_u64() ^ row.wrapping_mul(0xA076_1D64_78BD_642F);
    let mut m = SplitMix64::new(b);
    SplitMix64::new(m.next_u64())
}

/// Fills `out` (whole rows of `row_len`) with rows `first_row..` of tensor
/// number `tensor`.
pub fn fill_rows(
    seed: u64,
    tensor: usize,
    first_row: u64,
    row_len: usize,
    init: Init,
    out: &mut [f32],
) {
    for (i, row) in out.chunks_mut(row_len).enumerate() {
        let mut rng = row_stream(seed, tensor, first_row + i as u64);
        for x in row {
            *x = init.mean + init.std * rng.next_std();
        }
    }
}

/// Generates rows `first_row .. first_row + n_rows` of a tensor and converts
/// them to `ty`: the bytes to write.
pub fn make_chunk(
    seed: u64,
    tensor: usize,
    ty: GgmlType,
    row_len: u64,
    first_row: u64,
    n_rows: u64,
    init: Init,
) -> Result<Vec<u8>, GgmlError> {
    let row_len = row_len as usize;
    let mut values = vec![0f32; row_len * n_rows as usize];
    fill_rows(seed, tensor, first_row, row_len, init, &mut values);
    let row_bytes = ty.row_bytes(row_len as u64).unwrap_or(0) as usize;
    let mut out = vec![0u8; row_bytes * n_rows as usize];
    let n = quantize_into(ty, &values, row_len, &mut out)?;
    out.truncate(n);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn std_values_have_unit_variance() {
        let mut r = SplitMix64::new(7);
        let n = 200_000;
        let xs: Vec<f64> = (0..n).map(|_| f64::from(r.next_std())).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 1.0).abs() < 0.02, "variance {var}");
        assert!(xs.iter().all(|x| x.abs() <= 2.0 * 3f64.sqrt() + 1e-6));
    }

    #[test]
    fn rows_do_not_depend_on_chunking() {
        let init = Init {
            mean: 0.0,
            std: 1.0,
        };
        let whole = make_chunk(3, 5, GgmlType::Q8_0, 64, 0, 10, init).expect("q8");
        let mut parts = make_chunk(3, 5, GgmlType::Q8_0, 64, 0, 4, init).expect("q8");
        parts.extend(make_chunk(3, 5, GgmlType::Q8_0, 64, 4, 6, init).expect("q8"));
        assert_eq!(whole, parts);
        assert_ne!(
            whole,
            make_chunk(4, 5, GgmlType::Q8_0, 64, 0, 10, init).expect("q8"),
            "seed matters"
        );
        assert_ne!(
            whole,
            make_chunk(3, 6, GgmlType::Q8_0, 64, 0, 10, init).expect("q8"),
            "tensor matters"
        );
    }

    #[test]
    fn values_follow_the_init() {
        let mut v = vec![0f32; 4096];
        fill_rows(
            1,
            0,
            0,
            4096,
            Init {
                mean: 1.0,
                std: 0.05,
            },
            &mut v,
        );
        assert!(v.iter().all(|x| (0.8..1.2).contains(x)));
        let bf = make_chunk(
            1,
            0,
            GgmlType::BF16,
            8,
            0,
            1,
            Init {
                mean: 2.0,
                std: 0.0,
            },
        )
        .expect("bf16");
        assert_eq!(bf, [0x00, 0x40].repeat(8), "bf16 of 2.0");
    }
}
