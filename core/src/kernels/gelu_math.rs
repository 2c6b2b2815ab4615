//! The arithmetic of the CPU GELU (`kernels::gelu`): `x·Φ(x)` and its derivative over slices,
//! written so that the compiler turns each loop into SIMD code (no calls, no branches).
//!
//! Φ uses Abramowitz & Stegun's formula 7.1.26 for erf (absolute error ≤ 1.5·10⁻⁷, the size of
//! f32's rounding of values near 1) with [`exp_nonpositive`]; the density φ shares
//! that `exp`. Only additions, multiplications and divisions are used (no fused
//! multiply-add), so every instruction set gives the same bits. On x86-64 the loops are compiled
//! three times (SSE2, AVX2, AVX-512) and the widest the processor has is picked at run time.

/// `x·Φ(x)` for each `x`.
pub fn gelu_slice(x: &[f32], out: &mut [f32]) {
    assert_eq!(x.len(), out.len(), "gelu: input and output lengths differ");
    // SAFETY: `widest()` saw the instruction set these compilations use.
    match widest() {
        Compiled::Avx512 => unsafe { avx512::gelu(x, out) },
        Compiled::Avx2 => unsafe { avx2::gelu(x, out) },
        Compiled::Generic => gelu_loop(x, out),
    }
}

/// `g·(Φ(x) + x·φ(x))` for each `x` and incoming gradient `g`.
pub fn gelu_grad_slice(x: &[f32], g: &[f32], out: &mut [f32]) {
    assert!(x.len() == out.len() && g.len() == out.len(), "gelu backward: lengths differ");
    // SAFETY: as in `gelu_slice`.
    match widest() {
        Compiled::Avx512 => unsafe { avx512::gelu_grad(x, g, out) },
        Compiled::Avx2 => unsafe { avx2::gelu_grad(x, g, out) },
        Compiled::Generic => gelu_grad_loop(x, g, out),
    }
}

/// The compilations of the loops (only the generic one off x86-64).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
enum Compiled {
    Generic,
    Avx2,
    Avx512,
}

/// The widest compilation this processor runs.
fn widest() -> Compiled {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return Compiled::Avx512;
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            return Compiled::Avx2;
        }
    }
    Compiled::Generic
}

#[inline(always)]
fn gelu_loop(x: &[f32], out: &mut [f32]) {
    for (o, &x) in out.iter_mut().zip(x) {
        let (cdf, _) = cdf_and_density(x);
        *o = x * cdf;
    }
}

#[inline(always)]
fn gelu_grad_loop(x: &[f32], g: &[f32], out: &mut [f32]) {
    for ((o, &x), &g) in out.iter_mut().zip(x).zip(g) {
        let (cdf, pdf) = cdf_and_density(x);
        *o = g * (cdf + x * pdf);
    }
}

/// Compilations of the loops for wider vector units (x86-64 only; elsewhere these are the
/// generic loops and are never called).
macro_rules! compiled_for {
    ($name:ident, $features:literal) => {
        mod $name {
            #[cfg_attr(target_arch = "x86_64", target_feature(enable = $features))]
            pub unsafe fn gelu(x: &[f32], out: &mut [f32]) {
                super::gelu_loop(x, out)
            }
            #[cfg_attr(target_arch = "x86_64", target_feature(enable = $features))]
            pub unsafe fn gelu_grad(x: &[f32], g: &[f32], out: &mut [f32]) {
                super::gelu_grad_loop(x, g, out)
            }
        }
    };
}
compiled_for!(avx2, "avx2");
compiled_for!(avx512, "avx512f");

const FRAC_1_SQRT_2: f32 = core::f32::consts::FRAC_1_SQRT_2;
/// 1/√(2π)
const FRAC_1_SQRT_2PI: f32 = 0.398_942_3;

/// (Φ(x), φ(x)): the standard normal distribution function and density.
#[inline(always)]
pub fn cdf_and_density(x: f32) -> (f32, f32) {
    // Φ(x) = ½(1 + erf(z)), z = x/√2; A&S 7.1.26 for |z|: erf = 1 − t·P(t)·e^(−z²), t = 1/(1 + p|z|)
    let z = x.abs() * FRAC_1_SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * z);
    let poly = t
        * (0.254_829_6
            + t * (-0.284_496_74 + t * (1.421_413_8 + t * (-1.453_152 + t * 1.061_405_4))));
    let e = exp_nonpositive(-(z * z));
    let tail = 0.5 * poly * e; // Φ(−|x|), without cancellation
    let cdf = if x >= 0.0 { 1.0 - tail } else { tail };
    (cdf, FRAC_1_SQRT_2PI * e)
}

/// e^x for x ≤ 0 (relative error ≈ 1 ulp; below −87, e^−87 ≈ 1.6·10⁻³⁸ instead of a subnormal
/// or 0). NaN gives a finite value: callers multiply by their own `x`.
#[inline(always)]
pub fn exp_nonpositive(x: f32) -> f32 {
    const LOG2_E: f32 = core::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_145_75; // ln 2 split so that n·LN2_HI is exact
    const LN2_LO: f32 = 1.428_606_8e-6;
    const ROUND: f32 = 12_582_912.0; // 1.5·2²³: adding it rounds to an integer in the low bits
    #[expect(clippy::manual_clamp, reason = "max/min send NaN to -87 (exp 0); clamp keeps NaN")]
    let x = x.max(-87.0).min(0.0);
    let shifted = x * LOG2_E + ROUND;
    let n = shifted - ROUND; // round(x·log₂e)
    let r = (x - n * LN2_HI) - n * LN2_LO; // |r| ≤ ln2/2
    // Taylor series of e^r to r⁷/7! (truncation < 1e-8 relative on |r| ≤ 0.35)
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0
                    + r * (1.0 / 24.0
                        + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
    let exponent = (shifted.to_bits() as i32).wrapping_sub(ROUND.to_bits() as i32); // n as an integer
    p * f32::from_bits(((exponent + 127) as u32) << 23)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Φ(x) in f64 from the series/continued-fraction-free identity Φ = ½ erfc(−x/√2).
    fn cdf64(x: f64) -> f64 {
        0.5 * libm::erfc(-x / core::f64::consts::SQRT_2)
    }

    #[test]
    fn exp_is_accurate_to_an_ulp_or_two() {
        let mut worst = 0f64;
        for i in 0..=870_000 {
            let x = -(i as f32) * 1e-4;
            let got = exp_nonpositive(x) as f64;
            let want = (x as f64).exp();
            worst = worst.max(((got - want) / want).abs());
        }
        assert!(worst < 2.5e-7, "worst relative error {worst}");
        assert_eq!(exp_nonpositive(0.0), 1.0);
        assert_eq!(exp_nonpositive(-200.0), exp_nonpositive(-87.0));
    }

    #[test]
    fn normal_cdf_and_density_match_f64() {
        let (mut worst_cdf, mut worst_pdf) = (0f64, 0f64);
        for i in -150_000..=150_000 {
            let x = i as f32 * 1e-4;
            let (cdf, pdf) = cdf_and_density(x);
            worst_cdf = worst_cdf.max((cdf as f64 - cdf64(x as f64)).abs());
            let want_pdf = (-(x as f64).powi(2) / 2.0).exp() / (2.0 * core::f64::consts::PI).sqrt();
            worst_pdf = worst_pdf.max((pdf as f64 - want_pdf).abs());
        }
        assert!(worst_cdf < 3e-7, "Φ off by {worst_cdf}");
        assert!(worst_pdf < 1e-7, "φ off by {worst_pdf}");
        assert_eq!(cdf_and_density(40.0).0, 1.0);
        assert!((0.0..1e-37).contains(&cdf_and_density(-40.0).0));
    }

    /// The slice functions (whichever compilation runs here) agree with the scalar formulas bit
    /// for bit, including the ragged tail after the last full vector.
    #[test]
    fn slices_equal_the_scalar_formulas() {
        let x: Vec<f32> = (0..1037).map(|i| (i as f32 * 0.37).sin() * 6.0 - 0.5).collect();
        let g: Vec<f32> = (0..1037).map(|i| (i as f32 * 0.11).cos()).collect();
        let mut y = vec![0f32; x.len()];
        let mut dy = vec![0f32; x.len()];
        gelu_slice(&x, &mut y);
        gelu_grad_slice(&x, &g, &mut dy);
        for i in 0..x.len() {
            let (cdf, pdf) = cdf_and_density(x[i]);
            assert_eq!(y[i].to_bits(), (x[i] * cdf).to_bits(), "value at {i}");
            assert_eq!(dy[i].to_bits(), (g[i] * (cdf + x[i] * pdf)).to_bits(), "grad at {i}");
        }
    }
}
