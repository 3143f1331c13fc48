//! Quantization and type conversion of f32 rows through ggml's own
//! quantizer (`ggml_quantize_chunk`), never a hand-written one.

use super::{GgmlError, GgmlType};

/// Converts `src` (whole rows of `n_per_row` f32 values) to type `ty`,
/// writing into `dst`, and returns the number of bytes written.
///
/// Works for the plain float types (F32, F16, BF16) and for every quantized
/// type that does not need an importance matrix (Q4_0 … Q8_0, the K quants,
/// MXFP4). The checks here stand in front of ggml's aborting asserts.
pub fn quantize_into(
    ty: GgmlType,
    src: &[f32],
    n_per_row: usize,
    dst: &mut [u8],
) -> Result<usize, GgmlError> {
    let err = |reason: String| GgmlError::Quantize {
        ty: ty.name().to_string(),
        reason,
    };
    if n_per_row == 0 || src.len() % n_per_row != 0 {
        return Err(err(format!(
            "{} values are not whole rows of {n_per_row}",
            src.len()
        )));
    }
    let row_bytes = ty.row_bytes(n_per_row as u64).ok_or_else(|| {
        err(format!(
            "row length {n_per_row} is not a multiple of the block size {}",
            ty.block_size()
        ))
    })?;
    let nrows = src.len() / n_per_row;
    let need = (row_bytes as usize)
        .checked_mul(nrows)
        .ok_or_else(|| err("size overflows".to_string()))?;
    if dst.len() < need {
        return Err(err(format!(
            "output holds {} bytes, {need} needed",
            dst.len()
        )));
    }
    if !quantizable(ty) {
        return Err(err(
            "this type is not produced by kchat's quantizer".to_string()
        ));
    }
    if nrows == 0 {
        return Ok(0);
    }
    // SAFETY: `src` holds nrows * n_per_row f32 and `dst` at least `need` bytes,
    // as checked above; the type is one ggml quantizes without an imatrix.
    let written = unsafe {
        ggml_sys::ggml_quantize_chunk(
            ty.id(),
            src.as_ptr(),
            dst.as_mut_ptr().cast(),
            0,
            nrows as i64,
            n_per_row as i64,
            std::ptr::null(),
        )
    };
    Ok(written)
}

/// Like [`quantize_into`], allocating the output.
pub fn quantize(ty: GgmlType, src: &[f32], n_per_row: usize) -> Result<Vec<u8>, GgmlError> {
    let rows = src.len().checked_div(n_per_row).unwrap_or(0);
    let len = ty.row_bytes(n_per_row as u64).unwrap_or(0) as usize * rows;
    let mut out = vec![0u8; len];
    let n = quantize_into(ty, src, n_per_row, &mut out)?;
    out.truncate(n);
    Ok(out)
}

fn quantizable(ty: GgmlType) -> bool {
    use GgmlType::*;
    let supported = matches!(
        ty,
        F32 | F16
            | BF16
            | Q4_0
            | Q4_1
            | Q5_0
            | Q5_1
            | Q8_0
            | Q2_K
            | Q3_K
            | Q4_K
            | Q5_K
            | Q6_K
            | MXFP4
    );
    // SAFETY: a pure query on a valid type id.
    supported && !unsafe { ggml_sys::ggml_quantize_requires_imatrix(ty.id()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 25.0)
            .collect()
    }

    #[test]
    fn q8_0_rows_have_ggml_size_and_round_trip_closely() {
        let src = ramp(64 * 3);
        let q = quantize(GgmlType::Q8_0, &src, 64).expect("quantizes");
        assert_eq!(q.len(), 3 * 2 * 34);
        // Decode the first block by hand: f16 scale, then 32 i8.
        let d = f16_to_f32(u16::from_le_bytes([q[0], q[1]]));
        for i in 0..32 {
            let v = d * f32::from(q[2 + i] as i8);
            assert!(
                (v - src[i]).abs() <= d * 0.51 + 1e-6,
                "elem {i}: {v} vs {}",
                src[i]
            );
        }
    }

    #[test]
    fn bf16_is_the_upper_half_of_f32() {
        let src = [1.0f32, -2.5, 3.140625, 0.0];
        let q = quantize(GgmlType::BF16, &src, 4).expect("converts");
        for (i, x) in src.iter().enumerate() {
            let hi = u16::from_le_bytes([q[2 * i], q[2 * i + 1]]);
            assert_eq!(f32::from_bits(u32::from(hi) << 16), *x);
        }
    }

    #[test]
    fn bad_requests_are_errors_not_aborts() {
        assert!(quantize(GgmlType::Q8_0, &ramp(33), 33).is_err());
        assert!(quantize(GgmlType::Q8_0, &ramp(65), 32).is_err());
        assert!(quantize(GgmlType::IQ2_XXS, &ramp(256), 256).is_err());
        let mut small = [0u8; 10];
        assert!(quantize_into(GgmlType::Q8_0, &ramp(32), 32, &mut small).is_err());
    }

    fn f16_to_f32(h: u16) -> f32 {
        let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
        let exp = i32::from((h >> 10) & 0x1f);
        let frac = f32::from(h & 0x3ff);
        match exp {
            0 => sign * frac * 2f32.powi(-24),
            _ => sign * (1.0 + frac / 1024.0) * 2f32.powi(exp - 15),
        }
    }
}
