//! Matrix products with one rounding sequence on every architecture.
//!
//! Every output `C[i][j]` is one chain of fused multiply-adds in `k` order, starting from
//! zero: `c = fma(A[i][0], B[0][j], 0)`, then `c = fma(A[i][p], B[p][j], c)` for `p = 1..k`.
//! A fused multiply-add rounds once, as IEEE 754 defines it, so the chain has one result
//! whatever computes it: x86_64's FMA3 and AVX-512 instructions, RISC-V's `fmadd.s`, or
//! `f32::mul_add` in software on a CPU without FMA. The kernels below only choose how many
//! outputs they compute at once (SIMD lanes and register tiles are different outputs, never
//! a split of one output's sum), so they all give the same bits; the property tests check
//! each kernel this CPU has against [`reference`].
//!
//! Operands are packed: `A` in panels of [`Kernel::mr`] rows and `B` in panels of
//! [`Kernel::nr`] columns, each panel `k`-major and padded with zeros, so a micro-kernel
//! reads both with unit stride. A model's constant operand (a layer's weights) is packed
//! once, when the model is loaded.

use std::{cell::Cell, sync::OnceLock};

thread_local! {
    static CHOSEN: Cell<Option<Kernel>> = const { Cell::new(None) };
}

/// A micro-kernel: the register tile it computes and the instructions it uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// `f32::mul_add` on a 4 × 4 tile of scalars (RISC-V's `fmadd.s`; a library call on a
    /// CPU without FMA).
    Portable,
    /// AVX2 and FMA3: a 6 × 16 tile in twelve 8-lane registers.
    #[cfg(target_arch = "x86_64")]
    Avx2,
    /// AVX-512: an 8 × 32 tile in sixteen 16-lane registers.
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

impl Kernel {
    /// The fastest kernel this CPU runs; detected once.
    pub fn best() -> Self {
        static BEST: OnceLock<Kernel> = OnceLock::new();
        *BEST.get_or_init(|| Self::available().last().copied().unwrap_or(Self::Portable))
    }

    /// The kernel for models loaded now on this thread: [`Kernel::best`], unless inside
    /// [`Kernel::run`].
    pub fn current() -> Self {
        CHOSEN.with(Cell::get).unwrap_or_else(Self::best)
    }

    /// Runs `f` with this kernel for the models it loads on this thread: every kernel of a
    /// CPU can be checked against the recorded output bits.
    pub fn run<R>(self, f: impl FnOnce() -> R) -> R {
        let before = CHOSEN.with(|c| c.replace(Some(self)));
        let out = f();
        CHOSEN.with(|c| c.set(before));
        out
    }

    /// Every kernel this CPU runs, slowest first.
    pub fn available() -> Vec<Self> {
        #[allow(unused_mut)]
        let mut kernels = vec![Self::Portable];
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                kernels.push(Self::Avx2);
            }
            if is_x86_feature_detected!("avx512f") {
                kernels.push(Self::Avx512);
            }
        }
        kernels
    }

    /// Rows of a tile (of a packed `A` panel).
    pub const fn mr(self) -> usize {
        match self {
            Self::Portable => 4,
            #[cfg(target_arch = "x86_64")]
            Self::Avx2 => 6,
            #[cfg(target_arch = "x86_64")]
            Self::Avx512 => 8,
        }
    }

    /// Columns of a tile (of a packed `B` panel).
    pub const fn nr(self) -> usize {
        match self {
            Self::Portable => 4,
            #[cfg(target_arch = "x86_64")]
            Self::Avx2 => 16,
            #[cfg(target_arch = "x86_64")]
            Self::Avx512 => 32,
        }
    }

    /// Steps of `k` per block: a block of a `B` panel stays in the L1 cache while every row
    /// panel of `A` goes through it (the scalar kernel, for an instruction count, takes all
    /// of `k` at once).
    pub const fn kc(self) -> usize {
        match self {
            Self::Portable => usize::MAX,
            #[cfg(target_arch = "x86_64")]
            Self::Avx2 | Self::Avx512 => 256,
        }
    }

    /// Whether the left operand should be packed ([`Lhs::Packed`]) for this kernel: the
    /// scalar kernel reads one pointer with constant offsets, the vector kernels broadcast
    /// from the rows as they are.
    pub const fn packs_lhs(self) -> bool {
        matches!(self, Self::Portable)
    }

    /// Computes one tile: `tile[i * nr + j] = Σ_p a[i * rs + p * cs] · b[p * nr + j]` over
    /// `k` steps, as fused multiply-add chains from zero, or from the tile's values when
    /// `accumulate` (the chains of the `k` steps before, continued).
    fn tile(
        self,
        k: usize,
        a: &[f32],
        (rs, cs): (usize, usize),
        b: &[f32],
        tile: &mut [f32],
        accumulate: bool,
    ) {
        let (mr, nr) = (self.mr(), self.nr());
        assert!(k == 0 || a.len() > (mr - 1) * rs + (k - 1) * cs);
        assert!(b.len() >= k * nr && tile.len() >= mr * nr);
        match self {
            Self::Portable if (rs, cs) == (1, 4) => portable_packed_4x4(k, a, b, tile, accumulate),
            Self::Portable => portable_4x4(k, a, (rs, cs), b, tile, accumulate),
            // SAFETY: `available` saw the features these kernels are compiled for, and
            // the asserts above bound every read and write.
            #[cfg(target_arch = "x86_64")]
            Self::Avx2 => unsafe {
                x86::avx2_6x16(
                    k,
                    a.as_ptr(),
                    rs,
                    cs,
                    b.as_ptr(),
                    tile.as_mut_ptr(),
                    accumulate,
                )
            },
            #[cfg(target_arch = "x86_64")]
            Self::Avx512 => unsafe {
                x86::avx512_8x32(
                    k,
                    a.as_ptr(),
                    rs,
                    cs,
                    b.as_ptr(),
                    tile.as_mut_ptr(),
                    accumulate,
                )
            },
        }
    }
}

/// The accumulators a tile starts from: zeros, or the tile's values.
fn start_4x4(tile: &[f32], accumulate: bool) -> [[f32; 4]; 4] {
    let mut acc = [[0f32; 4]; 4];
    if accumulate {
        for (row, src) in acc.iter_mut().zip(tile.chunks_exact(4)) {
            row.copy_from_slice(src);
        }
    }
    acc
}

/// The scalar kernel on a packed left operand (what riscv64 runs): two steps of `k` per
/// iteration, every load at a constant offset, no bounds check in the loop.
fn portable_packed_4x4(k: usize, a: &[f32], b: &[f32], tile: &mut [f32], accumulate: bool) {
    #[inline(always)]
    fn step(acc: &mut [[f32; 4]; 4], a: &[f32; 4], b: &[f32; 4]) {
        for (row, &ai) in acc.iter_mut().zip(a) {
            for (c, &bj) in row.iter_mut().zip(b) {
                *c = ai.mul_add(bj, *c);
            }
        }
    }
    let mut acc = start_4x4(tile, accumulate);
    let (a, _) = a[..k * 4].as_chunks::<4>();
    let (b, _) = b[..k * 4].as_chunks::<4>();
    let (a_pairs, b_pairs) = (a.chunks_exact(2), b.chunks_exact(2));
    let last = a_pairs.remainder().first().zip(b_pairs.remainder().first());
    for (ap, bp) in a_pairs.zip(b_pairs) {
        step(&mut acc, &ap[0], &bp[0]);
        step(&mut acc, &ap[1], &bp[1]);
    }
    if let Some((ap, bp)) = last {
        step(&mut acc, ap, bp);
    }
    for (dst, row) in tile.chunks_exact_mut(4).zip(&acc) {
        dst.copy_from_slice(row);
    }
}

#[inline(always)]
fn portable_4x4(
    k: usize,
    a: &[f32],
    (rs, cs): (usize, usize),
    b: &[f32],
    tile: &mut [f32],
    accumulate: bool,
) {
    let mut acc = start_4x4(tile, accumulate);
    for (p, bp) in b.chunks_exact(4).take(k).enumerate() {
        for (i, row) in acc.iter_mut().enumerate() {
            let ai = a[i * rs + p * cs];
            for (c, &bj) in row.iter_mut().zip(bp) {
                *c = ai.mul_add(bj, *c);
            }
        }
    }
    for (dst, row) in tile.chunks_exact_mut(4).zip(&acc) {
        dst.copy_from_slice(row);
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// A vector kernel: `$mr` rows by two registers of `$lanes` lanes, one broadcast of `A`
    /// and two loads of `B` per step of `k`.
    macro_rules! kernel {
        ($name:ident, $features:literal, $mr:literal, $lanes:literal, $zero:ident, $load:ident,
         $store:ident, $splat:ident, $fmadd:ident) => {
            /// # Safety
            #[doc = concat!("The CPU has ", $features, "; `a` holds ", $mr, " rows of `k` (strides")]
            #[doc = concat!("`rs`, `cs`), `b` 2 × ", $lanes, " × `k` and `tile` ", $mr, " × 2 × ", $lanes, " floats.")]
            #[target_feature(enable = $features)]
            pub(super) unsafe fn $name(
                k: usize,
                a: *const f32,
                rs: usize,
                cs: usize,
                b: *const f32,
                tile: *mut f32,
                accumulate: bool,
            ) {
                const NR: usize = 2 * $lanes;
                unsafe {
                    let mut acc = [[$zero(); 2]; $mr];
                    if accumulate {
                        for (i, row) in acc.iter_mut().enumerate() {
                            row[0] = $load(tile.add(i * NR));
                            row[1] = $load(tile.add(i * NR + $lanes));
                        }
                    }
                    for p in 0..k {
                        let b0 = $load(b.add(p * NR));
                        let b1 = $load(b.add(p * NR + $lanes));
                        for (i, row) in acc.iter_mut().enumerate() {
                            let ai = $splat(*a.add(i * rs + p * cs));
                            row[0] = $fmadd(ai, b0, row[0]);
                            row[1] = $fmadd(ai, b1, row[1]);
                        }
                    }
                    for (i, row) in acc.iter().enumerate() {
                        $store(tile.add(i * NR), row[0]);
                        $store(tile.add(i * NR + $lanes), row[1]);
                    }
                }
            }
        };
    }

    kernel!(
        avx2_6x16,
        "avx2,fma",
        6,
        8,
        _mm256_setzero_ps,
        _mm256_loadu_ps,
        _mm256_storeu_ps,
        _mm256_set1_ps,
        _mm256_fmadd_ps
    );
    kernel!(
        avx512_8x32,
        "avx512f",
        8,
        16,
        _mm512_setzero_ps,
        _mm512_loadu_ps,
        _mm512_storeu_ps,
        _mm512_set1_ps,
        _mm512_fmadd_ps
    );
}

/// `A` (`m × k`) in panels of `mr` rows, each `k`-major, the last one padded with zeros.
#[derive(Debug, Clone, PartialEq)]
pub struct PackedA {
    m: usize,
    k: usize,
    mr: usize,
    data: Vec<f32>,
}

impl PackedA {
    /// Packs the `m × k` matrix whose element `(i, p)` is `a[i * row_stride + p]`.
    pub fn new(kernel: Kernel, a: &[f32], m: usize, k: usize, row_stride: usize) -> Self {
        let mr = kernel.mr();
        let mut data = vec![0.0; m.div_ceil(mr) * k * mr];
        for (panel, dst) in data.chunks_exact_mut(k * mr).enumerate() {
            for i in 0..mr.min(m - panel * mr) {
                let row = &a[(panel * mr + i) * row_stride..][..k];
                for (p, &x) in row.iter().enumerate() {
                    dst[p * mr + i] = x;
                }
            }
        }
        Self { m, k, mr, data }
    }
}

/// `B` (`k × n`) in panels of `nr` columns, each `k`-major, the last one padded with zeros.
#[derive(Debug, Clone, PartialEq)]
pub struct PackedB {
    k: usize,
    n: usize,
    nr: usize,
    data: Vec<f32>,
}

impl PackedB {
    /// Packs `B = Wᵀ` for the `n × k` matrix `w` (row-major): the layout of a dense layer's
    /// weights (`Gemm` with `transB`, PyTorch's `Linear`).
    pub fn from_transposed(kernel: Kernel, w: &[f32], n: usize, k: usize) -> Self {
        Self::with(kernel, k, n, |p, j| w[j * k + p])
    }

    /// Packs the row-major `k × n` matrix `b`.
    pub fn from_rows(kernel: Kernel, b: &[f32], k: usize, n: usize) -> Self {
        Self::with(kernel, k, n, |p, j| b[p * n + j])
    }

    /// A `k × n` matrix of zeros, to be filled by [`PackedB::unfold`].
    pub fn zeros(kernel: Kernel, k: usize, n: usize) -> Self {
        let nr = kernel.nr();
        Self {
            k,
            n,
            nr,
            data: vec![0.0; n.div_ceil(nr) * k * nr],
        }
    }

    /// Packs the `k × n` matrix whose element `(p, j)` is `at(p, j)`.
    pub fn with(kernel: Kernel, k: usize, n: usize, at: impl Fn(usize, usize) -> f32) -> Self {
        let mut packed = Self::zeros(kernel, k, n);
        let nr = packed.nr;
        for (panel, dst) in packed.data.chunks_exact_mut(k * nr).enumerate() {
            for j in 0..nr.min(n - panel * nr) {
                for p in 0..k {
                    dst[p * nr + j] = at(p, panel * nr + j);
                }
            }
        }
        packed
    }

    /// Refills the panels with the columns of an image's windows (im2col): element `(p, j)`
    /// is `image[start_j + taps[p]]`, the windows' starts given by [`Windows`]. Columns past the last window (the last panel's padding) keep what they
    /// held: they only reach outputs that are never written.
    pub fn unfold(&mut self, image: &[f32], windows: &Windows, taps: &[usize]) {
        let (k, nr) = (self.k, self.nr);
        assert!(windows.count == self.n && windows.nr == nr && taps.len() == k);
        if k == 0 || self.n == 0 {
            return;
        }
        match &windows.starts {
            Starts::Each(starts) => {
                // The scalar kernel's panels: a gather per element, the panel's four window
                // starts in registers, beats copying runs of at most four. Every index is a
                // start plus a tap, and the largest of each fit in `image`.
                let reach = starts.iter().max().copied().unwrap_or(0)
                    + taps.iter().max().copied().unwrap_or(0);
                assert!(reach < image.len(), "a window reaches past the image");
                let (panels, _) = self.data.as_chunks_mut::<4>();
                let (starts, _) = starts.as_chunks::<4>();
                for (dst, &[s0, s1, s2, s3]) in panels.chunks_exact_mut(k).zip(starts) {
                    for (d, &tap) in dst.iter_mut().zip(taps) {
                        // SAFETY: start + tap ≤ reach < image.len(), asserted above.
                        unsafe {
                            *d = [
                                *image.get_unchecked(s0 + tap),
                                *image.get_unchecked(s1 + tap),
                                *image.get_unchecked(s2 + tap),
                                *image.get_unchecked(s3 + tap),
                            ];
                        }
                    }
                }
            }
            Starts::Runs { stride, panels } => {
                for (dst, runs) in self.data.chunks_exact_mut(k * nr).zip(panels) {
                    for (row, &tap) in dst.chunks_exact_mut(nr).zip(taps) {
                        for &(j, start, len) in runs {
                            let src = &image[start + tap..];
                            let dst = &mut row[j..j + len];
                            if *stride == 1 {
                                for (d, &s) in dst.iter_mut().zip(src) {
                                    *d = s;
                                }
                            } else {
                                for (d, &s) in dst.iter_mut().zip(src.iter().step_by(*stride)) {
                                    *d = s;
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Columns.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Rows.
    pub fn k(&self) -> usize {
        self.k
    }
}

/// Where a convolution's windows start in its (padded) image, for the panels of one kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Windows {
    count: usize,
    nr: usize,
    starts: Starts,
}

/// Window starts, as the kernel's panels are filled.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Starts {
    /// Every window's start, panel by panel (the last panel's padding starts at 0): the
    /// scalar kernel's 4-wide panels, filled by a gather per element.
    Each(Vec<usize>),
    /// Per panel, runs of windows on one output row: `(column in the panel, first window's
    /// start, windows)`, consecutive windows `stride` elements apart; wide panels, filled
    /// run by run.
    Runs {
        stride: usize,
        panels: Vec<Vec<(usize, usize, usize)>>,
    },
}

impl Windows {
    /// The `rows × cols` windows of an image `width` elements wide, `strides` apart.
    pub fn new(
        kernel: Kernel,
        rows: usize,
        cols: usize,
        width: usize,
        strides: [usize; 2],
    ) -> Self {
        let nr = kernel.nr();
        let count = rows * cols;
        let start =
            |pixel: usize| (pixel / cols) * strides[0] * width + (pixel % cols) * strides[1];
        let starts = if nr == 4 {
            let mut each = vec![0; count.div_ceil(nr) * nr];
            for (pixel, s) in each.iter_mut().enumerate().take(count) {
                *s = start(pixel);
            }
            Starts::Each(each)
        } else {
            let mut panels = vec![Vec::new(); count.div_ceil(nr)];
            for (panel, runs) in panels.iter_mut().enumerate() {
                let mut j = 0;
                while j < nr && panel * nr + j < count {
                    let pixel = panel * nr + j;
                    let len = (cols - pixel % cols).min(nr - j).min(count - pixel);
                    runs.push((j, start(pixel), len));
                    j += len;
                }
            }
            Starts::Runs {
                stride: strides[1],
                panels,
            }
        };
        Self { count, nr, starts }
    }
}

/// The left operand of [`gemm`].
#[derive(Debug, Clone, Copy)]
pub enum Lhs<'a> {
    /// Packed for the kernel (a layer's weights, or any operand of the scalar kernel).
    Packed(&'a PackedA),
    /// The `m × k` matrix whose element `(i, p)` is `a[i * row_stride + p]`, read in place.
    Rows {
        /// The elements.
        a: &'a [f32],
        /// Rows.
        m: usize,
        /// Columns.
        k: usize,
        /// Elements from one row to the next.
        row_stride: usize,
    },
}

impl Lhs<'_> {
    fn dims(&self) -> (usize, usize) {
        match *self {
            Self::Packed(p) => (p.m, p.k),
            Self::Rows { m, k, .. } => (m, k),
        }
    }
}

/// `C = A · B`: `C[i][j]` is written to `c[i * ldc + j]`. A packed operand must be packed
/// for `kernel`, and both must have the same `k`.
pub fn gemm(kernel: Kernel, a: Lhs<'_>, b: &PackedB, c: &mut [f32], ldc: usize) {
    let (mr, nr) = (kernel.mr(), kernel.nr());
    let (m, k) = a.dims();
    assert_eq!(
        (b.nr, b.k),
        (nr, k),
        "operands packed for another kernel or k"
    );
    if let Lhs::Packed(p) = a {
        assert_eq!(p.mr, mr, "operand packed for another kernel");
    }
    if m == 0 || b.n == 0 {
        return;
    }
    assert!(c.len() >= (m - 1) * ldc + b.n);
    if k == 0 {
        for i in 0..m {
            c[i * ldc..][..b.n].fill(0.0);
        }
        return;
    }
    // The last rows of an unpacked operand, padded with zero rows to a whole tile.
    let mut tail = Vec::new();
    if let Lhs::Rows { a, row_stride, .. } = a
        && m % mr != 0
    {
        tail.resize(mr * k, 0.0);
        let first = m - m % mr;
        for (i, dst) in tail.chunks_exact_mut(k).take(m % mr).enumerate() {
            dst.copy_from_slice(&a[(first + i) * row_stride..][..k]);
        }
    }
    // Each row panel of `A`, and how its elements are laid out (row and `k` strides).
    let panels: Vec<(&[f32], (usize, usize))> = (0..m)
        .step_by(mr)
        .map(|i0| match a {
            Lhs::Packed(p) => (&p.data[i0 * k..][..mr * k], (1, mr)),
            Lhs::Rows { a, row_stride, .. } if m - i0 >= mr => {
                (&a[i0 * row_stride..], (row_stride, 1))
            }
            Lhs::Rows { .. } => (tail.as_slice(), (k, 1)),
        })
        .collect();
    let kc = kernel.kc().min(k);
    let mut tiles = vec![0f32; panels.len() * mr * nr];
    for (jp, b_panel) in b.data.chunks_exact(k * nr).enumerate() {
        for k0 in (0..k).step_by(kc) {
            let steps = kc.min(k - k0);
            let b_block = &b_panel[k0 * nr..][..steps * nr];
            for ((panel, strides), tile) in panels.iter().zip(tiles.chunks_exact_mut(mr * nr)) {
                let a_block = &panel[k0 * strides.1..];
                kernel.tile(steps, a_block, *strides, b_block, tile, k0 > 0);
            }
        }
        let j0 = jp * nr;
        let cols = nr.min(b.n - j0);
        for (ip, tile) in tiles.chunks_exact(mr * nr).enumerate() {
            for i in 0..mr.min(m - ip * mr) {
                let row = &mut c[(ip * mr + i) * ldc + j0..][..cols];
                let src = &tile[i * nr..][..cols];
                if let (Ok(dst), Ok(src)) = (
                    <&mut [f32; 4]>::try_from(&mut *row),
                    <&[f32; 4]>::try_from(src),
                ) {
                    // The scalar kernel's whole rows: four moves, not a call to `memcpy`.
                    *dst = *src;
                } else {
                    row.copy_from_slice(src);
                }
            }
        }
    }
}

/// The definition the kernels must match: one fused multiply-add chain per output.
pub fn reference(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
    let mut c = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            let mut acc = 0f32;
            for p in 0..k {
                acc = a[i * k + p].mul_add(b[p * n + j], acc);
            }
            c[i * n + j] = acc;
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn product(kernel: Kernel, a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
        let pa = PackedA::new(kernel, a, m, k, k);
        let pb = PackedB::from_rows(kernel, b, k, n);
        let mut packed = vec![f32::NAN; m * n];
        gemm(kernel, Lhs::Packed(&pa), &pb, &mut packed, n);
        let mut rows = vec![f32::NAN; m * n];
        gemm(
            kernel,
            Lhs::Rows {
                a,
                m,
                k,
                row_stride: k,
            },
            &pb,
            &mut rows,
            n,
        );
        assert_eq!(bits(&packed), bits(&rows), "{kernel:?}");
        packed
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Every kernel of this CPU gives the reference's bits, on shapes that are and are not
        /// multiples of the tiles (1, primes, one past a tile).
        #[test]
        fn kernels_match_the_reference(
            m in prop::sample::select(vec![1usize, 2, 3, 4, 5, 6, 7, 8, 9, 13, 17, 32, 33]),
            // Past 256, the vector kernels continue each chain across blocks of `k`.
            k in prop::sample::select(vec![1usize, 2, 3, 7, 16, 25, 31, 64, 97, 256, 257, 600]),
            n in prop::sample::select(vec![1usize, 3, 4, 5, 10, 16, 17, 31, 32, 33, 47, 64, 65]),
            seed in any::<u64>(),
        ) {
            let mut state = seed | 1;
            let mut next = || {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                // Values over many binades, of both signs: sums that cancel and round.
                let mantissa = (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
                mantissa * f32::powi(2.0, (state % 17) as i32 - 8)
            };
            let a: Vec<f32> = (0..m * k).map(|_| next()).collect();
            let b: Vec<f32> = (0..k * n).map(|_| next()).collect();
            let expected = bits(&reference(&a, &b, m, k, n));
            for kernel in Kernel::available() {
                prop_assert_eq!(bits(&product(kernel, &a, &b, m, k, n)), expected.clone(), "{:?}", kernel);
            }
        }
    }

    #[test]
    fn fused_not_separate() {
        // (1 + 2^-23)^2 = 1 + 2^-22 + 2^-46: a rounded product loses the 2^-46 that the fused
        // multiply-add of the second step keeps against the first step's -(1 + 2^-22).
        let x = 1.0 + f32::EPSILON;
        let a = [1.0, x];
        let b = [-(1.0 + 2.0 * f32::EPSILON), x];
        for kernel in Kernel::available() {
            let c = product(kernel, &a, &b, 1, 2, 1);
            assert_eq!(c[0], f32::powi(2.0, -46), "{kernel:?}");
        }
    }

    #[test]
    fn transposed_packing_is_the_transpose() {
        let kernel = Kernel::best();
        let w: Vec<f32> = (0..15).map(|i| i as f32).collect(); // 3 × 5
        let wt: Vec<f32> = (0..15).map(|i| w[(i % 3) * 5 + i / 3]).collect(); // 5 × 3
        assert_eq!(
            PackedB::from_transposed(kernel, &w, 3, 5),
            PackedB::from_rows(kernel, &wt, 5, 3)
        );
    }
}
