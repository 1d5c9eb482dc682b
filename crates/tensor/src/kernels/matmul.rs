//! Matrix multiplication through the `gemm` crate (strided, so transposed
//! views are multiplied without a copy).

use crate::element::Element;
use crate::layout::{broadcast_shapes, Dims, Layout};
use crate::tensor::Tensor;
use gemm_common::Parallelism;
use rayon::prelude::*;
use std::any::TypeId;

/// Below this many multiply-adds (`m·n·k`) one gemm call runs on the calling
/// thread: W1 at n = 64 (262,144) is faster alone than split over two cores.
pub const GEMM_PAR_MIN: usize = 96 * 96 * 96;

thread_local! {
    /// Set while a thread computes its share of a product split by rows.
    static SEQUENTIAL: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Marks this thread as computing a share of a split product until
/// dropped (a panic in the share unmarks it too).
struct Sequential;

impl Sequential {
    fn enter() -> Self {
        SEQUENTIAL.with(|s| s.set(true));
        Sequential
    }
}

impl Drop for Sequential {
    fn drop(&mut self) {
        SEQUENTIAL.with(|s| s.set(false));
    }
}

/// Products with at least this many rows are split by rows across the
/// threads whatever the layout of their right operand (see `gemm_into`).
const SPLIT_ROWS_MIN: usize = 512;

/// Products of at most this many multiply-adds skip gemm: its dispatch and
/// packing cost more than the arithmetic on matrices like W4's 4×2 · 2×8.
pub const SMALL_MATMUL: usize = 512;

/// `C = A · B` (or `C += A · B` when `accumulate`) by the schoolbook
/// loop, for tiny products (`m·n·k <= SMALL_MATMUL`): dot products when
/// `n <= k`, else rows of B scaled and added. The operands are first
/// copied onto the stack in the order the loop reads them, unless they are
/// in that order already, so that the loops run over plain slices (strided
/// reads with a bounds check each cost W4 ~18 instructions per
/// multiply-add).
///
/// Each element sums its terms in the order `p = 0, 1, …, k−1`, starting
/// from 0 (or from the element when accumulating), whatever the layout:
/// the same bits as the loop `c += a[i][p]·b[p][j]` over `p`.
fn small_matmul<T: Element>(
    dst: &mut [T],
    (m, n, k): (usize, usize, usize),
    a: (&[T], usize, usize, usize),
    b: (&[T], usize, usize, usize),
    accumulate: bool,
) {
    let (mut a_buf, mut b_buf) = (Scratch::new(), Scratch::new());
    let a = row_major(&mut a_buf, a, m, k);
    let rows = dst.chunks_exact_mut(n).zip(a.chunks_exact(k));
    if n <= k {
        // dot products of A's rows with B's columns (B copied as Bᵀ):
        // m·n loops of k, fewer than the m·k loops of n below
        let bt = row_major(&mut b_buf, (b.0, b.1, b.3, b.2), n, k);
        for (c, a_row) in rows {
            for (x, b_col) in c.iter_mut().zip(bt.chunks_exact(k)) {
                let start = if accumulate { *x } else { T::zero() };
                *x = a_row.iter().zip(b_col).fold(start, |s, (&u, &v)| s + u * v);
            }
        }
        return;
    }
    // C's row i is the sum over p of A[i][p] times B's row p
    let b = row_major(&mut b_buf, b, k, n);
    for (c, a_row) in rows {
        let mut terms = a_row.iter().zip(b.chunks_exact(n));
        if !accumulate {
            // the first term is added to 0 in the same pass as it is
            // written (`0 + a·b`: the bits of zeroing first)
            if let Some((&u, b_row)) = terms.next() {
                c.iter_mut()
                    .zip(b_row)
                    .for_each(|(x, &v)| *x = T::zero() + u * v);
            }
        }
        for (&u, b_row) in terms {
            c.iter_mut().zip(b_row).for_each(|(x, &v)| *x = *x + u * v);
        }
    }
}

/// Room for a tiny product's operand on the stack. Only the elements used
/// are written: a `[T; 256]` zero-filled whole for every product (a 2 KB
/// `memset`) would cost more than the copy saves.
type Scratch<T> = smallvec::SmallVec<[T; 256]>;

/// The `rows × cols` operand `(storage, offset, row stride, column
/// stride)` as a dense row-major slice: borrowed when it is one already,
/// else copied into `buf`.
fn row_major<'a, T: Element>(
    buf: &'a mut Scratch<T>,
    (src, off, rs, cs): (&'a [T], usize, usize, usize),
    rows: usize,
    cols: usize,
) -> &'a [T] {
    let len = rows * cols;
    if cs == 1 && (rs == cols || rows == 1) {
        return &src[off..off + len];
    }
    // zeroed then written: `extend` per row cost ~35 instructions an
    // element on W4's operands of 8 to 32
    buf.resize(len, T::zero());
    for (r, row) in buf.chunks_exact_mut(cols).enumerate() {
        let start = off + r * rs;
        for (c, x) in row.iter_mut().enumerate() {
            *x = src[start + c * cs];
        }
    }
    buf
}

/// One `C[m×n] = A[m×k] · B[k×n]` into dense row-major `dst`.
///
/// `a` and `b` are (storage, offset, row stride, column stride).
pub(super) fn gemm_into<T: Element>(
    dst: &mut [T],
    (m, n, k): (usize, usize, usize),
    a: (&[T], usize, usize, usize),
    b: (&[T], usize, usize, usize),
    accumulate: bool,
) {
    // Everything below is re-checked with checked arithmetic: the shapes
    // come from tensors that obey `checked_numel`, but the unsafe call
    // must not rely on that alone.
    assert_eq!(
        Some(dst.len()),
        m.checked_mul(n),
        "matmul: output buffer does not hold {m}×{n} elements"
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst.iter_mut().for_each(|x| *x = T::zero());
        }
        return;
    }
    // The last element each operand reads must be inside its storage.
    assert!(
        last_index(a.1, (m - 1, a.2), (k - 1, a.3)).is_some_and(|i| i < a.0.len()),
        "matmul: lhs layout out of bounds"
    );
    assert!(
        last_index(b.1, (k - 1, b.2), (n - 1, b.3)).is_some_and(|i| i < b.0.len()),
        "matmul: rhs layout out of bounds"
    );
    let isz = |x: usize| isize::try_from(x).expect("matmul: stride or extent exceeds isize");
    let (dst_rs, a_rs, a_cs, b_rs, b_cs) = (isz(n), isz(a.2), isz(a.3), isz(b.2), isz(b.3));
    let work = m.saturating_mul(n).saturating_mul(k);
    if work <= SMALL_MATMUL {
        small_matmul(dst, (m, n, k), a, b, accumulate);
        return;
    }
    if TypeId::of::<T>() != TypeId::of::<f32>() && TypeId::of::<T>() != TypeId::of::<f64>() {
        loops_into(dst, (m, n, k), a, b, accumulate);
        return;
    }
    let threads = rayon::current_num_threads();
    let b_row_major = b.3 == 1;
    if threads > 1
        && work >= GEMM_PAR_MIN
        && m >= 64
        && (!b_row_major || m >= SPLIT_ROWS_MIN)
        && !SEQUENTIAL.with(|s| s.get())
    {
        // rows split across the threads, one sequential product each:
        // each thread packs its own rows of `a`. gemm's own threading
        // packs a left operand that is not column-major — here `bᵀ`, for
        // a `b` whose rows are strided, such as a weight read as `wᵀ` —
        // on the calling thread alone first, the other thread waiting (7 %
        // of a 2-thread W3 step). Only then: each thread's own gemm
        // allocates its own packing buffers, which glibc keeps in that
        // thread's arena (W3's peak RSS at 2 threads 9.0 -> 11.3–14.5 MB
        // when every product was split; `linear` now hands gemm its
        // weight row-major instead, see `transpose_first`). Tall products
        // (W1 at n = 1024: 10.34 split vs 10.58 ms, 2 threads, 3 rounds)
        // are split whatever their layout.
        let rows = m.div_ceil(threads);
        dst.par_chunks_mut(rows * n).enumerate().for_each(|(i, d)| {
            let _sequential = Sequential::enter();
            let a_part = (a.0, a.1 + i * rows * a.2, a.2, a.3);
            gemm_into(d, (d.len() / n, n, k), a_part, b, accumulate);
        });
        return;
    }
    let par = if threads > 1 && work >= GEMM_PAR_MIN && !SEQUENTIAL.with(|s| s.get()) {
        Parallelism::Rayon(threads)
    } else {
        Parallelism::None
    };
    // gemm's kernels prefer a column-major destination: our row-major
    // C = A·B is handed over as the column-major Cᵀ = Bᵀ·Aᵀ (what the
    // `gemm` facade does), unless C is a single column or that order
    // makes gemm repack a much larger left operand (see `repack_cost`).
    let (a_ptr, b_ptr) = (
        a.0.as_ptr().wrapping_add(a.1),
        b.0.as_ptr().wrapping_add(b.1),
    );
    let transposed = n > 1 && {
        let lanes = 64 / std::mem::size_of::<T>();
        let swapped = gemm_cost((n, m, k), b.3, lanes);
        let as_is = gemm_cost((m, n, k), a.2, lanes);
        as_is.saturating_mul(4) >= swapped.saturating_mul(3)
    };
    let ((m, n), (d_cs, d_rs), (lhs, l_cs, l_rs), (rhs, r_cs, r_rs)) = if transposed {
        (
            (n, m),
            (dst_rs, 1),
            (b_ptr, b_rs, b_cs),
            (a_ptr, a_rs, a_cs),
        )
    } else {
        (
            (m, n),
            (1, dst_rs),
            (a_ptr, a_cs, a_rs),
            (b_ptr, b_cs, b_rs),
        )
    };
    // SAFETY: `dst` holds m·n elements (asserted, without overflow) written
    // with row stride n and column stride 1 (or, transposed, the same
    // elements as an n×m column-major matrix); the asserts above show,
    // with checked arithmetic, that the last element the operands'
    // (non-negative) strides reach lies inside their storage (so the
    // offset pointers are in bounds), and every stride fits in `isize`;
    // each pointer is cast to f32 (f64) only where `T` *is* f32 (f64) by
    // `TypeId` (any other type returned above), so the casts are
    // identities; `read_dst` is `accumulate`, and `dst`'s old values are
    // initialised either way.
    unsafe {
        let dst = dst.as_mut_ptr();
        let alpha = if accumulate { 1.0 } else { 0.0 };
        // one call, spelled once, for the two element types
        macro_rules! call {
            ($kernel:expr, $alpha:expr) => {
                $kernel(
                    m,
                    n,
                    k,
                    dst.cast(),
                    d_cs,
                    d_rs,
                    accumulate,
                    lhs.cast(),
                    l_cs,
                    l_rs,
                    rhs.cast(),
                    r_cs,
                    r_rs,
                    $alpha,
                    1.0,
                    false,
                    false,
                    false,
                    par,
                )
            };
        }
        if TypeId::of::<T>() == TypeId::of::<f32>() {
            call!(gemm_f32::gemm::f32::get_gemm_fn(), alpha as f32);
        } else {
            // f64, the one other type that reaches here (checked above)
            debug_assert!(TypeId::of::<T>() == TypeId::of::<f64>());
            call!(gemm_f64::gemm::f64::get_gemm_fn(), alpha);
        }
    }
}

/// A rough cost of one gemm call computing an `m × n` column-major result
/// from a left operand whose rows lie `row_stride` apart, in multiply-adds:
/// the kernel's work with `m` rounded up to whole vectors of `lanes` and
/// `n` to its 6 columns, plus about 10 for each element gemm copies to
/// repack the left operand when its rows are not adjacent.
///
/// A product whose operands both run along `k` (a convolution's weight
/// gradient `G·Cᵀ`, `[16, 100]·[100, 150]` per image) must repack one of
/// them; handing gemm the smaller one as its left operand packs 16 rows
/// instead of 150 (per image: 0.95 → 0.63 ms for the batch of 64).
fn gemm_cost((m, n, k): (usize, usize, usize), row_stride: usize, lanes: usize) -> usize {
    let work = m
        .div_ceil(lanes)
        .saturating_mul(lanes)
        .saturating_mul(n.div_ceil(6).saturating_mul(6))
        .saturating_mul(k);
    let pack = if row_stride == 1 {
        0
    } else {
        m.saturating_mul(k).saturating_mul(10)
    };
    work.saturating_add(pack)
}

/// `dst (+)= a·b` by plain loops over strided slices, for element types
/// gemm does not know (an `Element` implemented outside this crate).
fn loops_into<T: Element>(
    dst: &mut [T],
    (m, n, k): (usize, usize, usize),
    (a, ao, ar, ac): (&[T], usize, usize, usize),
    (b, bo, br, bc): (&[T], usize, usize, usize),
    accumulate: bool,
) {
    for (i, row) in dst.chunks_exact_mut(n).enumerate().take(m) {
        for (j, d) in row.iter_mut().enumerate() {
            let s = (0..k).fold(T::zero(), |s, p| {
                s + a[ao + i * ar + p * ac] * b[bo + p * br + j * bc]
            });
            *d = if accumulate { *d + s } else { s };
        }
    }
}

/// Products of a batched `matmul_sum` accumulated in order into one
/// partial sum before the partials are added (fixed, so the result does
/// not depend on the thread count).
const SUM_RUN: usize = 8;

/// Whether `count` independent products of `m·n·k` multiply-adds should
/// run one per thread: more than one thread, more than one product, and
/// each below gemm's own parallel threshold.
fn small_batch(count: usize, (m, n, k): (usize, usize, usize)) -> bool {
    count > 1
        && rayon::current_num_threads() > 1
        && m.saturating_mul(n).saturating_mul(k) < GEMM_PAR_MIN
}

/// The storage offsets of batch entry `i` (row-major over `batch`) in two
/// layouts whose leading axes are the batch axes.
fn batch_offsets(batch: &[usize], (la, lb): (&Layout, &Layout), i: usize) -> (usize, usize) {
    (
        batch_offset(batch, &la.strides, la.offset, i),
        batch_offset(batch, &lb.strides, lb.offset, i),
    )
}

/// The storage offset of batch entry `i` (row-major over `batch`) in a
/// layout with this `offset` whose leading `strides` are the batch axes'.
pub(super) fn batch_offset(batch: &[usize], strides: &[usize], offset: usize, i: usize) -> usize {
    let (mut off, mut rem) = (offset, i);
    for d in (0..batch.len()).rev() {
        off += (rem % batch[d]) * strides[d];
        rem /= batch[d];
    }
    off
}

fn last_index(offset: usize, (i, si): (usize, usize), (j, sj): (usize, usize)) -> Option<usize> {
    offset
        .checked_add(i.checked_mul(si)?)?
        .checked_add(j.checked_mul(sj)?)
}

/// True when axes `0..=last` of `l` can be read as one axis with the stride
/// of axis `last`.
fn collapsible(l: &Layout, last: usize) -> bool {
    let mut expect = l.strides[last] * l.shape[last];
    for i in (0..last).rev() {
        if l.shape[i] == 1 {
            continue;
        }
        if l.strides[i] != expect {
            return false;
        }
        expect = l.strides[i] * l.shape[i];
    }
    true
}

impl<T: Element> Tensor<T> {
    /// Matrix product with PyTorch's `matmul` rules: 2-D @ 2-D, batched
    /// `[.., m, k] @ [.., k, n]` with batch axes broadcast, and 1-D operands
    /// treated as a row (left) or column (right) vector whose axis is then
    /// removed. Strided views (e.g. `w.t()`) are read in place.
    ///
    /// ```
    /// use mnemon_tensor::Tensor;
    /// let a = Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
    /// let b = Tensor::<f32>::eye(2);
    /// assert_eq!(a.matmul(&b).to_vec(), a.to_vec());
    /// assert_eq!(a.matmul(&a.t()).to_vec(), vec![5.0, 11.0, 11.0, 25.0]);
    /// ```
    ///
    /// # Panics
    /// When an operand is rank 0, the inner dimensions differ or the batch
    /// axes cannot be broadcast; the message names both shapes and the
    /// caller's line.
    #[track_caller]
    pub fn matmul(&self, other: &Self) -> Self {
        let loc = std::panic::Location::caller();
        let fail = |why: &str| -> ! {
            panic!(
                "matmul: {why} for shapes {:?} and {:?}, called at {loc}",
                self.shape(),
                other.shape()
            )
        };
        if self.rank() == 0 || other.rank() == 0 {
            fail("rank-0 operand");
        }
        if self.rank() == 2 && other.rank() == 2 {
            // the common case, without the batch bookkeeping below
            let (la, lb) = (&self.layout, &other.layout);
            let (m, k, n) = (la.shape[0], la.shape[1], lb.shape[1]);
            if k != lb.shape[0] {
                fail(&format!("inner dimensions differ ({k} vs {})", lb.shape[0]));
            }
            // every element is written (no accumulation): no zero fill
            // (and a tiny product is held inline, without a buffer of its own)
            let mut out =
                crate::pool::overwritable_buf(crate::layout::numel_or_panic("matmul", &[m, n]));
            gemm_into(
                &mut out,
                (m, n, k),
                (&self.data, la.offset, la.strides[0], la.strides[1]),
                (&other.data, lb.offset, lb.strides[0], lb.strides[1]),
                false,
            );
            return Tensor::from_buf(out, &[m, n]);
        }
        let a = if self.rank() == 1 {
            self.unsqueeze(0)
        } else {
            self.clone()
        };
        let b = if other.rank() == 1 {
            other.unsqueeze(1)
        } else {
            other.clone()
        };
        let (ra, rb) = (a.rank(), b.rank());
        let (m, k) = (a.shape()[ra - 2], a.shape()[ra - 1]);
        let (k2, n) = (b.shape()[rb - 2], b.shape()[rb - 1]);
        if k != k2 {
            fail(&format!("inner dimensions differ ({k} vs {k2})"));
        }
        let batch = broadcast_shapes(&a.shape()[..ra - 2], &b.shape()[..rb - 2])
            .unwrap_or_else(|| fail("batch dimensions cannot be broadcast"));
        let mut sa: Dims = batch.clone();
        sa.extend([m, k]);
        let mut sb: Dims = batch.clone();
        sb.extend([k, n]);
        let la = a.layout.broadcast_to(&sa).expect("batch broadcast checked");
        let lb = b.layout.broadcast_to(&sb).expect("batch broadcast checked");
        let mut out_shape: Dims = batch.clone();
        out_shape.extend([m, n]);
        let total = crate::layout::numel_or_panic("matmul", &out_shape);
        // the operands broadcast to the batch: check those views too
        crate::layout::numel_or_panic("matmul", &sa);
        crate::layout::numel_or_panic("matmul", &sb);
        let nb: usize = batch.iter().product();
        // every product writes its whole block (no accumulation)
        let mut out = crate::pool::overwritable(total);
        let r = batch.len();
        let b_shared = lb.strides[..r].iter().all(|&s| s == 0);
        if nb > 1 && b_shared && collapsible(&la, r) {
            // [batch.., m, k] @ [k, n] is one [batch·m, k] @ [k, n] product.
            gemm_into(
                &mut out,
                (nb * m, n, k),
                (&a.data, la.offset, la.strides[r], la.strides[r + 1]),
                (&b.data, lb.offset, lb.strides[r], lb.strides[r + 1]),
                false,
            );
        } else if nb > 0 {
            let product = |(i, dst): (usize, &mut [T])| {
                let (oa, ob) = batch_offsets(&batch, (&la, &lb), i);
                gemm_into(
                    dst,
                    (m, n, k),
                    (&a.data, oa, la.strides[r], la.strides[r + 1]),
                    (&b.data, ob, lb.strides[r], lb.strides[r + 1]),
                    false,
                );
            };
            let blocks = out.chunks_mut((m * n).max(1)).enumerate().take(nb);
            if small_batch(nb, (m, n, k)) {
                // products too small for gemm to split (attention heads,
                // a convolution's images): one per thread instead
                let blocks: Vec<_> = blocks.collect();
                blocks.into_par_iter().for_each(product);
            } else {
                blocks.for_each(product);
            }
        }
        if self.rank() == 1 {
            out_shape.remove(out_shape.len() - 2);
        }
        if other.rank() == 1 {
            out_shape.pop();
        }
        Tensor::from_parts(out, &out_shape)
    }
}

impl<T: Element> Tensor<T> {
    /// `self · weightᵀ + bias` for `self` of shape `[.., in]`, `weight`
    /// `[out, in]` and `bias` `[out]`: a linear layer's forward pass. The
    /// bias rows are written first and gemm accumulates the product onto
    /// them — one pass over the output fewer than a product, then an add
    /// (the sum per element is the same two terms, `b + Σ x·w`). PyTorch:
    /// `F.linear`.
    ///
    /// ```
    /// use mnemon_tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec(vec![1., 2., 3., 4.], &[2, 2]).unwrap();
    /// let w = Tensor::from_vec(vec![1., 0., 1., 1.], &[2, 2]).unwrap();
    /// let b = Tensor::from_vec(vec![10., 20.], &[2]).unwrap();
    /// assert_eq!(x.linear(&w, &b).to_vec(), vec![11., 23., 13., 27.]);
    /// ```
    ///
    /// # Panics
    /// When the shapes do not fit (naming them and the caller's line).
    #[track_caller]
    pub fn linear(&self, weight: &Self, bias: &Self) -> Self {
        let (xs, ws) = (self.shape(), weight.shape());
        let fits =
            ws.len() == 2 && !xs.is_empty() && xs[xs.len() - 1] == ws[1] && bias.shape() == [ws[0]];
        if !fits {
            panic!(
                "linear: input {xs:?}, weight {ws:?} and bias {:?} do not fit ([.., in], [out, in], [out]), called at {}",
                bias.shape(),
                std::panic::Location::caller()
            );
        }
        let (n_in, n_out) = (ws[1], ws[0]);
        let rows: usize = xs[..xs.len() - 1].iter().product();
        // a 2-D input is read as it is (a reshape would build a view, ~150
        // instructions of W4's tiny layers)
        let flat;
        let x = if xs.len() == 2 {
            self
        } else {
            match self.reshape(&[rows, n_in]) {
                Ok(v) => {
                    flat = v;
                    &flat
                }
                Err(_) => return self.matmul(&weight.t()) + bias,
            }
        };
        let Some(b) = bias.as_slice() else {
            return self.matmul(&weight.t()) + bias;
        };
        let total = crate::layout::numel_or_panic("linear", &[rows, n_out]);
        let mut out = crate::pool::take_buf(total);
        for _ in 0..rows {
            out.extend_from_slice(b);
        }
        let (lx, lw) = (&x.layout, &weight.layout);
        let x_op = (&x.data[..], lx.offset, lx.strides[0], lx.strides[1]);
        // (the cheap test first: most weights are read as stored)
        match transpose_first(rows, n_in, n_out)
            .then(|| weight.as_slice())
            .flatten()
        {
            Some(w) => {
                let mut wt = crate::pool::overwritable(n_in * n_out);
                super::transpose::transpose_into(w, n_in, &mut wt, n_out, (n_in, n_out));
                // a tensor, so that its buffer returns to the pool
                let wt = Tensor::from_parts(wt, &[n_in, n_out]);
                gemm_into(
                    &mut out,
                    (rows, n_out, n_in),
                    x_op,
                    (&wt.data, 0, n_out, 1),
                    true,
                );
            }
            None => gemm_into(
                &mut out,
                (rows, n_out, n_in),
                x_op,
                // weightᵀ: row stride of the product's right operand is
                // the weight's column stride
                (&weight.data, lw.offset, lw.strides[1], lw.strides[0]),
                true,
            ),
        }
        let mut shape: Dims = xs[..xs.len() - 1].iter().copied().collect();
        shape.push(n_out);
        Tensor::from_buf(out, &shape)
    }
}

/// Whether `linear` lays its weight out transposed (`[in, out]`, dense)
/// before the product `x·wᵀ`: gemm repacks a row-major `[out, in]` weight
/// read as `wᵀ` for every block of the batch it multiplies, which costs
/// more than one 8×8-tiled transpose when `in` is at least 256 and the two
/// copies fit in L2 (at most 2^17 elements each). Measured 1 thread, Zen
/// 4, the product with the weight as stored vs with it transposed (the
/// transpose on top): W3's 256→256 layer (batch 128) 200 vs 150 µs (+11
/// µs), W7's 512→128 (1,024 rows) 1.30 vs 1.21 ms (+10 µs); W3's 784→256
/// layer saved 35–45 µs for a 46–65 µs transpose (the copies spill out of
/// L2), and `in` = 128 saved 1–2 %, so those keep the strided read.
///
/// When gemm runs the product on several threads, the weight is always
/// transposed first (in parallel bands): read as `wᵀ` it would be packed
/// by one thread while the other waits, or split by rows with each
/// thread's own packing buffers (see `gemm_into`). W3 at 2 threads, min
/// of 8 alternating: 1.001 ms split by rows (peak RSS 10.8–13.5 MB) vs
/// 1.014 ms transposed first with one gemm (8.5–8.9 MB).
fn transpose_first(rows: usize, n_in: usize, n_out: usize) -> bool {
    if rows < 64 {
        return false;
    }
    let threaded = rayon::current_num_threads() > 1
        && rows.saturating_mul(n_in).saturating_mul(n_out) >= GEMM_PAR_MIN;
    threaded || (n_in >= 256 && n_in.saturating_mul(n_out) <= 1 << 17)
}

impl<T: Element> Tensor<T> {
    /// The sum over the batch axes of the batched product `self @ other`:
    /// `[m, n]`, without the `[batch.., m, n]` products in between (each
    /// product accumulates into one output). What a weight's gradient is
    /// when the weight was broadcast over a batch (a convolution's
    /// `Σ_images g·colsᵀ`). Batch axes broadcast as in [`Tensor::matmul`].
    ///
    /// ```
    /// use mnemon_tensor::Tensor;
    /// let a = Tensor::<f64>::from_vec(vec![1., 2., 3., 4.], &[2, 1, 2]).unwrap();
    /// let b = Tensor::<f64>::from_vec(vec![1., 1., 2., 0.], &[2, 2, 1]).unwrap();
    /// // [1 2]·[1 1]ᵀ + [3 4]·[2 0]ᵀ = 3 + 6
    /// assert_eq!(a.matmul_sum(&b).to_vec(), vec![9.]);
    /// ```
    ///
    /// # Panics
    /// As [`Tensor::matmul`], and when an operand has rank below 2.
    #[track_caller]
    pub fn matmul_sum(&self, other: &Self) -> Self {
        let loc = std::panic::Location::caller();
        let (ra, rb) = (self.rank(), other.rank());
        let fail = |why: &str| -> ! {
            panic!(
                "matmul_sum: {why} for shapes {:?} and {:?}, called at {loc}",
                self.shape(),
                other.shape()
            )
        };
        if ra < 2 || rb < 2 {
            fail("an operand of rank below 2");
        }
        let (m, k) = (self.shape()[ra - 2], self.shape()[ra - 1]);
        let (k2, n) = (other.shape()[rb - 2], other.shape()[rb - 1]);
        if k != k2 {
            fail(&format!("inner dimensions differ ({k} vs {k2})"));
        }
        let batch = broadcast_shapes(&self.shape()[..ra - 2], &other.shape()[..rb - 2])
            .unwrap_or_else(|| fail("batch dimensions cannot be broadcast"));
        let (mut sa, mut sb): (Dims, Dims) = (batch.clone(), batch.clone());
        sa.extend([m, k]);
        sb.extend([k, n]);
        crate::layout::numel_or_panic("matmul_sum", &sa);
        crate::layout::numel_or_panic("matmul_sum", &sb);
        let la = self
            .layout
            .broadcast_to(&sa)
            .expect("batch broadcast checked");
        let lb = other
            .layout
            .broadcast_to(&sb)
            .expect("batch broadcast checked");
        let size = crate::layout::numel_or_panic("matmul_sum", &[m, n]);
        let r = batch.len();
        let nb: usize = batch.iter().product();
        // the batch in fixed runs of SUM_RUN products, each accumulated in
        // order into its own partial, the partials then added in order: the
        // same sums whatever the thread count, and the runs spread over
        // threads when the products are too small for gemm to split
        let run = |j: usize| {
            let mut part = crate::pool::zeroed(size);
            for i in j * SUM_RUN..((j + 1) * SUM_RUN).min(nb) {
                let (oa, ob) = batch_offsets(&batch, (&la, &lb), i);
                gemm_into(
                    &mut part,
                    (m, n, k),
                    (&self.data, oa, la.strides[r], la.strides[r + 1]),
                    (&other.data, ob, lb.strides[r], lb.strides[r + 1]),
                    true,
                );
            }
            part
        };
        let runs = nb.div_ceil(SUM_RUN);
        let parts: Vec<Vec<T>> = if small_batch(runs, (m, n, k)) {
            (0..runs).into_par_iter().map(run).collect()
        } else {
            (0..runs).map(run).collect()
        };
        let mut parts = parts.into_iter();
        let mut out = parts.next().unwrap_or_else(|| crate::pool::zeroed(size));
        for p in parts {
            out.iter_mut().zip(&p).for_each(|(o, &x)| *o = *o + x);
        }
        Tensor::from_parts(out, &[m, n])
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;

    #[test]
    fn vector_and_batched_shapes() {
        let a = Tensor::<f64>::from_vec((0..6).map(f64::from).collect(), &[2, 3]).unwrap();
        let v = Tensor::<f64>::from_vec(vec![1., 1., 1.], &[3]).unwrap();
        assert_eq!(a.matmul(&v).to_vec(), vec![3., 12.]);
        assert_eq!(v.matmul(&a.t()).shape(), &[2]);
        let b3 = Tensor::<f64>::ones(&[4, 3, 2]);
        assert_eq!(a.matmul(&b3).shape(), &[4, 2, 2]);
        let a3 = Tensor::<f64>::ones(&[4, 2, 3]);
        let c = a3.matmul(&a.t());
        assert_eq!(c.shape(), &[4, 2, 2]);
        assert_eq!(c.to_vec()[..4], [3., 12., 3., 12.]);
        assert_eq!(
            Tensor::<f64>::zeros(&[2, 0])
                .matmul(&Tensor::zeros(&[0, 3]))
                .to_vec(),
            vec![0.0; 6]
        );
    }

    #[test]
    #[should_panic(
        expected = "matmul: inner dimensions differ (3 vs 4) for shapes [2, 3] and [4, 5]"
    )]
    fn inner_mismatch_panics() {
        Tensor::<f32>::zeros(&[2, 3]).matmul(&Tensor::zeros(&[4, 5]));
    }
}
