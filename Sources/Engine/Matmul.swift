import COpenBLAS

/// Single-precision matrix products for the engine and for training, run on the engine's thread team.
///
/// OpenBLAS is kept single-threaded (`Parallel` sets it so) and a large product is split into a few
/// pieces of output rows (or, when there are too few rows, output columns), each piece one OpenBLAS
/// call on one of the team's threads. One team for everything: OpenBLAS's own worker threads spin
/// for a while after every product, and on a 2-core machine that spinning takes a core from the
/// attention and element-wise kernels that run between products (ENGINE.md, pitfall 7). The split
/// depends only on the shapes, so results do not depend on the thread count.
/// Pieces are rows of the output when op(A) is the larger operand, columns otherwise (the output
/// head: a few rows against the whole vocabulary), so the large operand is streamed once.
public enum Matmul {
    /// Multiply-adds below which a product stays on the calling thread.
    static let parallelWork = 1 << 21
    /// Fewest rows (or columns) a piece gets, so each OpenBLAS call still runs its full kernels.
    static let minimumPiece = 32
    /// Pieces a large product is cut into: a few per thread, claimed dynamically, so a thread the
    /// OS deschedules on a shared machine delays one piece, not half the product.
    static let piecesPerProduct = 4

    /// C (M, N) = alpha · op(A) · op(B) + beta · C, all row-major. op(A) is A (M, K) with row stride
    /// lda, or with `transposeA` Aᵀ where A is stored (K, M); likewise op(B) is B (K, N) or, with
    /// `transposeB`, Bᵀ where B is stored (N, K).
    public static func sgemm(transposeA: Bool = false, transposeB: Bool, M: Int, N: Int, K: Int, alpha: Float = 1,
                             A: UnsafePointer<Float>, lda: Int, B: UnsafePointer<Float>, ldb: Int,
                             beta: Float = 0, C: UnsafeMutablePointer<Float>, ldc: Int) {
        guard M > 0, N > 0 else { return }
        _ = BLASKernels.selection  // the kernels are chosen (and checked) before the first product
        let ta = transposeA ? CblasTrans : CblasNoTrans, tb = transposeB ? CblasTrans : CblasNoTrans
        func call(_ m0: Int, _ m1: Int, _ n0: Int, _ n1: Int) {
            let a = transposeA ? A + m0 : A + m0 * lda
            let b = transposeB ? B + n0 * ldb : B + n0
            cblas_sgemm(CblasRowMajor, ta, tb, Int32(m1 - m0), Int32(n1 - n0), Int32(K), alpha, a, Int32(lda),
                        b, Int32(ldb), beta, C + m0 * ldc + n0, Int32(ldc))
        }
        // Row pieces each read all of op(B) (K·N), column pieces all of op(A) (M·K): split so the
        // larger is read once.
        let byRows = M >= 2 * minimumPiece && (M >= N || N < 2 * minimumPiece)
        let byColumns = !byRows && N >= 2 * minimumPiece
        guard M * N * K >= parallelWork, byRows || byColumns else {
            call(0, M, 0, N)
            return
        }
        inPieces(byRows ? M : N) { lo, hi in
            if byRows { call(lo, hi, 0, N) } else { call(0, M, lo, hi) }
        }
    }

    /// y (M) = alpha · A (M, N) · x (N) + beta · y, A row-major with row stride lda; split by rows of A.
    public static func sgemv(M: Int, N: Int, alpha: Float = 1, A: UnsafePointer<Float>, lda: Int,
                             x: UnsafePointer<Float>, beta: Float = 0, y: UnsafeMutablePointer<Float>) {
        guard M > 0 else { return }
        _ = BLASKernels.selection
        func call(_ m0: Int, _ m1: Int) {
            cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(m1 - m0), Int32(N), alpha, A + m0 * lda, Int32(lda),
                        x, 1, beta, y + m0, 1)
        }
        if M * N < parallelWork / 8 || M < 2 * minimumPiece {
            call(0, M)
        } else {
            inPieces(M, call)
        }
    }

    /// Runs `body(lo, hi)` over `0..<extent` cut into up to `piecesPerProduct` pieces on the team. The
    /// boundaries depend on `extent` only, so one thread, a busy team (the pieces then run one after
    /// another on this thread) and any number of threads give the same bits.
    private static func inPieces(_ extent: Int, _ body: (Int, Int) -> Void) {
        let pieces = max(1, min(piecesPerProduct, extent / minimumPiece))
        Parallel.forRange(pieces, minimumPerChunk: 1) { first, end in
            for i in first..<end { body(extent * i / pieces, extent * (i + 1) / pieces) }
        }
    }
}
