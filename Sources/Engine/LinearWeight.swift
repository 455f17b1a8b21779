import CKernels
import Foundation

/// A frozen linear layer `y = x · Wᵀ` with `W` of shape (out, in), row-major (PyTorch layout).
///
/// The float32 copy serves matrix-matrix products through OpenBLAS (prefill, batched decoding,
/// training). When the checkpoint stored the matrix quantized in a type the engine's kernels read
/// (Q4_0, Q4_1, Q5_0, Q8_0, Q4_K, Q5_K, Q6_K), the quantized rows are kept too: a single-token step
/// then reads 4.5-8.5 bits a weight instead of 32, and a batch of up to ``quantizedBatchLimit`` rows
/// dequantizes a few weight rows at a time into a cached tile, with the same arithmetic as the
/// dequantized matrix (up to summation order). Weights of the types made for large models (K-quants,
/// Q5_0) take that path for any number of rows, in pieces, unless their float copy already exists
/// (training makes it), so a 1.5B Q4_K_M model generates without its 7 GB of floats.
/// With ``Arithmetic/int8``, Q4_0, Q4_1 and Q4_K rows are also repacked, on first use, into panels for the int8 kernel.
/// A weight loaded with its quantized rows makes its float32 copy on first use too: a process that
/// only decodes short prompts (`fedguard chat`) or only reads the model's shapes (a deployed server's
/// `configure`) never dequantizes 0.6 GB of floats.
public final class LinearWeight: @unchecked Sendable {
    // @unchecked Sendable: immutable after init (buffers are only read), except the float copy and
    // the int8 repack, each built once under its lock.

    /// Output features (rows of W).
    public let outFeatures: Int
    /// Input features (columns of W).
    public let inFeatures: Int
    /// W as float32, (out, in): dequantized from the quantized rows on first use when the loader
    /// deferred it (the same values the file's floats give).
    public var dense: FloatBuffer {
        denseLock.lock()
        defer { denseLock.unlock() }
        if let d = denseStorage { return d }
        guard let q = quantized else { preconditionFailure("a weight without quantized rows is built with its floats") }
        let d = FloatBuffer(uninitializedCount: outFeatures * inFeatures)
        // The loader kept only whole rows of a type the kernels read, all of which dequantize.
        let status = fg_dequantize(q.type, q.data, d.pointer, Int64(outFeatures * inFeatures))
        precondition(status == 0, "dequantizing a \(outFeatures)×\(inFeatures) weight of type \(q.type) failed")
        denseStorage = d
        return d
    }

    /// Whether the float32 copy exists yet.
    public var hasDenseCopy: Bool {
        denseLock.lock()
        defer { denseLock.unlock() }
        return denseStorage != nil
    }

    private let denseLock = NSLock()
    private var denseStorage: FloatBuffer?
    /// The same rows in a quantized layout, if available.
    let quantized: QuantizedRows?

    /// Quantized rows owned by the weight (copied out of the memory-mapped file, rows reordered if needed).
    struct QuantizedRows {
        let type: UInt32
        let rowBytes: Int
        let data: UnsafeMutableRawPointer
    }

    /// A weight given as float32 only.
    init(outFeatures: Int, inFeatures: Int, dense: FloatBuffer) {
        precondition(dense.count == outFeatures * inFeatures, "weight buffer does not match its shape")
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
        self.denseStorage = dense
        self.quantized = nil
    }

    /// A weight whose float32 copy is made from `quantized` on first use.
    init(outFeatures: Int, inFeatures: Int, quantized: QuantizedRows) {
        precondition(quantized.rowBytes * outFeatures > 0, "quantized rows do not match the shape")
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
        self.quantized = quantized
    }

    /// Writes row `r` of W (as float32) to `destination`: from the float copy when it exists, else
    /// dequantized from the row's own blocks (the same values), so a token's embedding lookup does
    /// not make the whole table's float copy.
    public func copyRow(_ r: Int, to destination: UnsafeMutablePointer<Float>) {
        denseLock.lock()
        let made = denseStorage
        denseLock.unlock()
        if let made {
            destination.update(from: made.pointer + r * inFeatures, count: inFeatures)
        } else if let q = quantized {  // a weight without its float copy always has quantized rows
            let status = fg_dequantize(q.type, q.data + r * q.rowBytes, destination, Int64(inFeatures))
            precondition(status == 0, "dequantizing row \(r) of type \(q.type) failed")
        }
    }

    deinit {
        quantized?.data.deallocate()
        int8Storage?.deallocate()
    }

    /// Whether `int8` arithmetic applies: Q4_0, Q4_1 and Q4_K weights (see `fg_int8.h` for why not Q8_0,
    /// Q5_K or Q6_K).
    public var supportsInt8: Bool { quantized.map { $0.type == 2 || $0.type == 3 || $0.type == 12 } ?? false }

    private let int8Lock = NSLock()
    private var int8Storage: UnsafeMutableRawPointer?

    /// The quantized rows repacked for the int8 kernel, built on first use (exact-only callers never pay).
    private func int8Packed() -> UnsafeRawPointer {
        int8Lock.lock()
        defer { int8Lock.unlock() }
        if let p = int8Storage { return UnsafeRawPointer(p) }
        guard let q = quantized, supportsInt8 else { preconditionFailure("int8 products need Q4_0, Q4_1 or Q4_K weights") }
        let bytes = Int(fg_int8_packed_bytes(q.type, Int64(outFeatures), Int64(inFeatures)))
        let p = UnsafeMutableRawPointer.allocate(byteCount: max(bytes, 1), alignment: 64)
        // Panels packed over the team (a 1.5B Q4_K_M model's first int8 prompt spent ~4 s here on one thread).
        let panels = (outFeatures + Self.int8PanelRows - 1) / Self.int8PanelRows
        let box = UncheckedSendable((q, p, outFeatures, inFeatures))
        Parallel.forRange(panels, minimumPerChunk: max(1, (1 << 16) / max(1, inFeatures))) { a, b in
            let (q, p, rows, columns) = box.value
            let status = fg_int8_pack_weight_panels(q.type, q.data, Int64(rows), Int64(columns), p, Int64(a), Int64(b))
            precondition(status == 0, "repacking panels \(a)..<\(b) of a \(rows)×\(columns) weight of type \(q.type) failed")
        }
        int8Storage = p
        return UnsafeRawPointer(p)
    }

    /// Up to this many rows, products with quantized weights use the engine's own kernel; above it,
    /// OpenBLAS on the float copy (or, for weights that prefer their quantized rows, pieces of this size).
    static let quantizedBatchLimit = 64

    /// Weight rows a thread should get at least, so a chunk's work (~2M multiply-adds, ~0.1 ms)
    /// outweighs waking a thread; the layer matrices of a 135M model stay on one thread when decoding
    /// a single token, the output head is split.
    static func rowsWorthAThread(inFeatures: Int, rows: Int) -> Int {
        max(16, (1 << 17) / max(1, inFeatures * rows))
    }

    /// Whether single-token products read quantized weights.
    public var isQuantized: Bool { quantized != nil }

    /// Up to this many rows of x, a product with quantized rows runs the single-row kernel once per
    /// row rather than the small-batch kernel: two for K-quants and Q5_0, whose tile costs more to
    /// fill than two single-row products (one thread, Zen 3, 1536 × 1536 rows: Q4_K 0.78 ms by the
    /// tile for 1-6 rows against 0.29 ms a row; Q6_K 0.81 against 0.35). For Q4_0, Q4_1 and Q8_0 the
    /// tile would lose to up to three rows too (1536 × 576 Q4_1: 0.25 ms against 0.068 a row), but they
    /// keep it from two rows on: their batches are then independent of the row count bit for bit
    /// (ArithmeticTests), which small models' batched evaluations rely on, at a cost only when a
    /// batch has two or three rows left.
    static func rowsBySingleRowKernel(type: UInt32) -> Int {
        fg_quantized_type_has_blocks_of_32(type) != 0 ? 1 : 2
    }

    /// Several products that read the same input x (T, in), e.g. q/k/v or gate/up. For rows that the
    /// single-row kernel takes they share one parallel region, which halves the thread wake-ups of a decode
    /// step; with `int8` arithmetic they share one quantization of x.
    static func forward(_ products: [(weight: LinearWeight, output: UnsafeMutablePointer<Float>)],
                        input x: UnsafePointer<Float>, rows T: Int, arithmetic: Arithmetic = .exact) {
        if arithmetic == .int8, products.contains(where: \.weight.supportsInt8) {
            // Those int8 applies to share one quantization of x; the others (a Q6_K value
            // projection beside Q4_K ones in a Q4_K_M file) stay exact.
            forwardInt8(products.filter(\.weight.supportsInt8), input: x, rows: T)
            let exact = products.filter { !$0.weight.supportsInt8 }
            if !exact.isEmpty { forward(exact, input: x, rows: T, arithmetic: .exact) }
            return
        }
        guard products.allSatisfy({ $0.weight.quantized.map { T <= rowsBySingleRowKernel(type: $0.type) } ?? false }) else {
            for p in products { p.weight.forward(x, rows: T, into: p.output, arithmetic: arithmetic) }
            return
        }
        let total = products.reduce(0) { $0 + $1.weight.outFeatures }
        let box = UncheckedSendable((products, x))
        Parallel.forRange(total, minimumPerChunk: Self.rowsWorthAThread(inFeatures: products[0].weight.inFeatures, rows: T)) { a, b in
            let (products, x) = box.value
            var base = 0
            for p in products {
                let w = p.weight, n = w.outFeatures
                let lo = max(a - base, 0), hi = min(b - base, n)
                if lo < hi { w.matvecRows(x, rows: T, into: p.output, from: lo, to: hi) }
                base += n
            }
        }
    }

    /// y[t, lo..<hi] for each of the T rows of x, by the single-row kernel (quantized weights only).
    private func matvecRows(_ x: UnsafePointer<Float>, rows T: Int, into y: UnsafeMutablePointer<Float>, from lo: Int, to hi: Int) {
        guard let q = quantized else { return }
        for t in 0..<T {
            _ = fg_matvec_quantized(q.type, q.data, Int64(inFeatures), x + t * inFeatures, y + t * outFeatures,
                                    Int64(lo), Int64(hi))
        }
    }

    /// y (T, out) = x (T, in) · Wᵀ, overwriting y.
    func forward(_ x: UnsafePointer<Float>, rows T: Int, into y: UnsafeMutablePointer<Float>, arithmetic: Arithmetic = .exact) {
        if arithmetic == .int8, supportsInt8 {
            Self.forwardInt8([(self, y)], input: x, rows: T)
        } else if let q = quantized, T <= Self.rowsBySingleRowKernel(type: q.type) {
            let xBox = UncheckedSendable(x), yBox = UncheckedSendable(y)
            Parallel.forRange(outFeatures, minimumPerChunk: Self.rowsWorthAThread(inFeatures: inFeatures, rows: T)) { r0, r1 in
                self.matvecRows(xBox.value, rows: T, into: yBox.value, from: r0, to: r1)
            }
        } else if let q = quantized, T <= Self.quantizedBatchLimit || prefersQuantizedRows {
            // Small batches (batched decoding): OpenBLAS would repack the whole weight each call.
            // Larger ones, for weights that avoid their float copy, go in pieces of the same size.
            var start = 0
            while start < T {
                let rows = min(Self.quantizedBatchLimit, T - start)
                matmulQuantized(q, x + start * inFeatures, rows: rows, into: y + start * outFeatures)
                start += rows
            }
        } else if T == 1 {
            Matmul.sgemv(M: outFeatures, N: inFeatures, A: dense.pointer, lda: inFeatures, x: x, y: y)
        } else {
            Matmul.sgemm(transposeB: true, M: T, N: outFeatures, K: inFeatures, A: x, lda: inFeatures,
                         B: dense.pointer, ldb: inFeatures, C: y, ldc: outFeatures)
        }
    }

    /// Whether batches of any size read the quantized rows rather than the float copy: K-quants and
    /// Q5_0 (the types of large models' files, whose float copy would be several GB) until something
    /// (training) has made the copy.
    var prefersQuantizedRows: Bool {
        guard let q = quantized, fg_quantized_type_has_blocks_of_32(q.type) == 0 else { return false }
        return !hasDenseCopy
    }

    /// y (T, out) = x (T, in) · Wᵀ from the quantized rows for T ≤ ``quantizedBatchLimit``: x is
    /// packed once, the threads split the weight rows.
    private func matmulQuantized(_ q: QuantizedRows, _ x: UnsafePointer<Float>, rows T: Int, into y: UnsafeMutablePointer<Float>) {
        let packed = UnsafeMutablePointer<Float>.allocate(capacity: Int(fg_packed_rows(Int64(T))) * inFeatures)
        defer { packed.deallocate() }
        fg_pack_kmajor(x, Int64(T), Int64(inFeatures), Int64(inFeatures), packed)
        let xBox = UncheckedSendable(UnsafePointer(packed)), yBox = UncheckedSendable(y)
        Parallel.forRange(outFeatures, minimumPerChunk: Self.rowsWorthAThread(inFeatures: inFeatures, rows: T)) { r0, r1 in
            let status = fg_matmul_quantized_packed(q.type, q.data, Int64(inFeatures), xBox.value, Int64(T),
                                                    yBox.value, Int64(outFeatures), Int64(r0), Int64(r1))
            precondition(status == 0, "no quantized product for type \(q.type)")  // the loader keeps only types it has
        }
    }

    /// Weight rows per int8 panel; thread chunks are whole panels.
    static let int8PanelRows = Int(FG_INT8_PANEL_ROWS)

    /// `int8` arithmetic: x is quantized once, then the threads split the products' weight rows in
    /// whole panels. Each output sums its blocks in a fixed order, so the split does not change bits.
    private static func forwardInt8(_ products: [(weight: LinearWeight, output: UnsafeMutablePointer<Float>)],
                                    input x: UnsafePointer<Float>, rows T: Int) {
        let C = products[0].weight.inFeatures
        precondition(products.allSatisfy { $0.weight.inFeatures == C }, "products sharing an input differ in width")
        let bytes = Int(fg_int8_activation_bytes(Int64(T), Int64(C)))
        let xq = UnsafeMutableRawPointer.allocate(byteCount: max(bytes, 1), alignment: 64)
        defer { xq.deallocate() }
        fg_quantize_activations(x, Int64(T), Int64(C), Int64(C), xq)
        let panels = products.map { ($0.weight.outFeatures + int8PanelRows - 1) / int8PanelRows }
        let total = panels.reduce(0, +)
        let minimum = max(1, rowsWorthAThread(inFeatures: C, rows: T) / int8PanelRows)
        let packed = products.map { $0.weight.int8Packed() }
        let box = UncheckedSendable((products, panels, packed, UnsafeRawPointer(xq)))
        Parallel.forRange(total, minimumPerChunk: minimum) { a, b in
            let (products, panels, packed, xq) = box.value
            var base = 0
            for ((p, count), weights) in zip(zip(products, panels), packed) {
                let lo = max(a - base, 0), hi = min(b - base, count)
                if lo < hi, let q = p.weight.quantized {
                    let n = p.weight.outFeatures
                    let status = fg_matmul_int8(q.type, weights, Int64(C), xq, Int64(T), p.output, Int64(n),
                                                Int64(lo * int8PanelRows), Int64(min(hi * int8PanelRows, n)))
                    precondition(status == 0, "int8 product failed (status \(status)) for a \(n)×\(C) weight of type \(q.type)")
                }
                base += count
            }
        }
    }
}
