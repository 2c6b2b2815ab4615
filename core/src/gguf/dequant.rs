//! ggml's tensor types → f32: the plain floats (F32, F16, BF16), the 32-element block
//! quantizations (Q4_0, Q4_1, Q8_0) and the 256-element K-quants (Q4_K, Q5_K, Q6_K), decoded
//! as llama.cpp's `dequantize_row_*` decode them, with the same f32 operations in the same
//! order, so the values equal the `gguf` Python package's bit for bit.

use half::f16;

/// Elements per K-quant super-block.
const QK_K: usize = 256;

/// A ggml type this module decodes: its name, elements per block, bytes per block.
struct Kind {
    name: &'static str,
    block: usize,
    bytes: usize,
}

fn kind(ggml_type: u32) -> Option<Kind> {
    let k = |name, block, bytes| Some(Kind { name, block, bytes });
    match ggml_type {
        0 => k("F32", 1, 4),
        1 => k("F16", 1, 2),
        2 => k("Q4_0", 32, 18),
        3 => k("Q4_1", 32, 20),
        8 => k("Q8_0", 32, 34),
        12 => k("Q4_K", QK_K, 144),
        13 => k("Q5_K", QK_K, 176),
        14 => k("Q6_K", QK_K, 210),
        30 => k("BF16", 1, 2),
        _ => None,
    }
}

/// The name of a ggml type (for messages), or its number.
pub fn type_name(ggml_type: u32) -> String {
    kind(ggml_type).map_or_else(|| format!("ggml type {ggml_type}"), |k| k.name.to_string())
}

/// Bytes that `elements` values of `ggml_type` take, or why they cannot be decoded.
pub fn byte_size(ggml_type: u32, elements: u64) -> Result<u64, String> {
    let k = kind(ggml_type).ok_or_else(|| {
        format!(
            "{} is not supported; expected F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q5_K or Q6_K",
            type_name(ggml_type)
        )
    })?;
    if !elements.is_multiple_of(k.block as u64) {
        return Err(format!(
            "{elements} elements are not whole {}-element {} blocks",
            k.block, k.name
        ));
    }
    Ok(elements / k.block as u64 * k.bytes as u64)
}

fn half(b: &[u8]) -> f32 {
    f16::from_le_bytes([b[0], b[1]]).to_f32()
}

/// Decodes `bytes` of `ggml_type` (as long as [`byte_size`] says) into f32 values.
pub fn dequantize(ggml_type: u32, bytes: &[u8]) -> Result<Vec<f32>, String> {
    let k = kind(ggml_type).ok_or_else(|| format!("{} is not supported", type_name(ggml_type)))?;
    if !bytes.len().is_multiple_of(k.bytes) {
        return Err(format!("{} bytes are not whole {} blocks", bytes.len(), k.name));
    }
    let mut out = Vec::with_capacity(bytes.len() / k.bytes * k.block);
    let blocks = bytes.chunks_exact(k.bytes);
    match ggml_type {
        0 => out.extend(blocks.map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))),
        1 => out.extend(blocks.map(half)),
        30 => out.extend(
            blocks.map(|b| f32::from_bits((u16::from_le_bytes([b[0], b[1]]) as u32) << 16)),
        ),
        2 => blocks.for_each(|b| q4_0(b, &mut out)),
        3 => blocks.for_each(|b| q4_1(b, &mut out)),
        8 => blocks.for_each(|b| q8_0(b, &mut out)),
        12 => blocks.for_each(|b| q4_k(b, &mut out)),
        13 => blocks.for_each(|b| q5_k(b, &mut out)),
        14 => blocks.for_each(|b| q6_k(b, &mut out)),
        _ => unreachable!("every kind is decoded"),
    }
    Ok(out)
}

/// `d` (f16), 16 bytes of nibbles: low nibbles are elements 0–15, high ones 16–31; `(q − 8)·d`.
fn q4_0(b: &[u8], out: &mut Vec<f32>) {
    let d = half(&b[0..2]);
    let qs = &b[2..18];
    out.extend(qs.iter().map(|&q| ((q & 0xF) as i32 - 8) as f32 * d));
    out.extend(qs.iter().map(|&q| ((q >> 4) as i32 - 8) as f32 * d));
}

/// `d`, `m` (f16), nibbles as in Q4_0; `q·d + m`.
fn q4_1(b: &[u8], out: &mut Vec<f32>) {
    let (d, m) = (half(&b[0..2]), half(&b[2..4]));
    let qs = &b[4..20];
    out.extend(qs.iter().map(|&q| d * (q & 0xF) as f32 + m));
    out.extend(qs.iter().map(|&q| d * (q >> 4) as f32 + m));
}

/// `d` (f16), 32 signed bytes; `q·d`.
fn q8_0(b: &[u8], out: &mut Vec<f32>) {
    let d = half(&b[0..2]);
    out.extend(b[2..34].iter().map(|&q| d * q as i8 as f32));
}

/// The 6-bit scale and min of sub-block `j` of a Q4_K/Q5_K super-block (`get_scale_min_k4`).
fn scale_min(j: usize, s: &[u8]) -> (f32, f32) {
    let (sc, m) = if j < 4 {
        (s[j] & 63, s[j + 4] & 63)
    } else {
        ((s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4), (s[j + 4] >> 4) | ((s[j] >> 6) << 4))
    };
    (sc as f32, m as f32)
}

/// `d`, `dmin` (f16), 12 bytes of scales/mins, 128 bytes of nibbles: eight sub-blocks of 32,
/// each `d·scale·q − dmin·min`.
fn q4_k(b: &[u8], out: &mut Vec<f32>) {
    let (d, dmin) = (half(&b[0..2]), half(&b[2..4]));
    let (scales, qs) = (&b[4..16], &b[16..144]);
    for (pair, q) in qs.chunks_exact(32).enumerate() {
        for (shift, j) in [(0, 2 * pair), (4, 2 * pair + 1)] {
            let (sc, m) = scale_min(j, scales);
            let (d1, m1) = (d * sc, dmin * m);
            out.extend(q.iter().map(|&x| d1 * ((x >> shift) & 0xF) as f32 - m1));
        }
    }
}

/// As Q4_K with a fifth bit per element in 32 bytes of `qh`.
fn q5_k(b: &[u8], out: &mut Vec<f32>) {
    let (d, dmin) = (half(&b[0..2]), half(&b[2..4]));
    let (scales, qh, qs) = (&b[4..16], &b[16..48], &b[48..176]);
    for (pair, ql) in qs.chunks_exact(32).enumerate() {
        for (shift, j) in [(0, 2 * pair), (4, 2 * pair + 1)] {
            let (sc, m) = scale_min(j, scales);
            let (d1, m1) = (d * sc, dmin * m);
            let bit = 1u8 << j;
            out.extend(ql.iter().zip(qh).map(|(&l, &h)| {
                let q = ((l >> shift) & 0xF) + if h & bit != 0 { 16 } else { 0 };
                d1 * q as f32 - m1
            }));
        }
    }
}

/// 128 bytes of low nibbles, 64 of high bit pairs, 16 signed scales, `d` (f16): sixteen
/// sub-blocks of 16, each `d·scale·(q − 32)` with 6-bit q.
fn q6_k(b: &[u8], out: &mut Vec<f32>) {
    let (ql, qh, sc, d) = (&b[0..128], &b[128..192], &b[192..208], half(&b[208..210]));
    for half_block in 0..2 {
        let (ql, qh, sc) = (&ql[64 * half_block..], &qh[32 * half_block..], &sc[8 * half_block..]);
        let mut y = [0f32; 128];
        for l in 0..32 {
            let is = l / 16;
            let q = |low: u8, shift: u8| (low | (((qh[l] >> shift) & 3) << 4)) as i32 - 32;
            let s = |k: usize| d * sc[is + k] as i8 as f32;
            y[l] = s(0) * q(ql[l] & 0xF, 0) as f32;
            y[l + 32] = s(2) * q(ql[l + 32] & 0xF, 2) as f32;
            y[l + 64] = s(4) * q(ql[l] >> 4, 4) as f32;
            y[l + 96] = s(6) * q(ql[l + 32] >> 4, 6) as f32;
        }
        out.extend_from_slice(&y);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q4_1_decodes_nibbles_low_half_first() {
        let mut b = Vec::new();
        b.extend(f16::from_f32(0.5).to_le_bytes());
        b.extend(f16::from_f32(-1.0).to_le_bytes());
        b.extend((0..16u8).map(|i| i | ((15 - i) << 4)));
        let v = dequantize(3, &b).unwrap();
        assert_eq!(v.len(), 32);
        assert_eq!((v[0], v[1], v[15]), (-1.0, -0.5, 6.5));
        assert_eq!((v[16], v[31]), (6.5, -1.0));
    }

    #[test]
    fn q8_0_and_bf16_decode_exactly() {
        let mut b = f16::from_f32(0.25).to_le_bytes().to_vec();
        b.extend((0..32).map(|i| (i as i8 - 16) as u8));
        assert_eq!(dequantize(8, &b).unwrap()[..3], [-4.0, -3.75, -3.5]);
        let bf = (1.5f32.to_bits() >> 16) as u16;
        assert_eq!(dequantize(30, &bf.to_le_bytes()).unwrap(), vec![1.5]);
    }

    #[test]
    fn sizes_name_unsupported_types_and_partial_blocks() {
        assert_eq!(byte_size(12, 512), Ok(288));
        assert!(byte_size(10, 256).unwrap_err().contains("ggml type 10 is not supported"));
        assert!(byte_size(2, 33).unwrap_err().contains("not whole 32-element Q4_0 blocks"));
    }
}
