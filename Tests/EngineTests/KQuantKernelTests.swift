import CKernels
@testable import Engine
import Foundation
import Testing

/// The quantized products (single-token: every kept type; small batches: `fg_matmul_quantized_packed`)
/// against the dequantized rows (gguf-py-exact dequantization, `fg_dequantize`) times x, on random
/// blocks with every bit pattern of the nibbles, high bits and packed scales.
struct KQuantKernelTests {
    /// Bytes of a K-quant super-block: Q4_K 144, Q5_K 176, Q6_K 210.
    static func superBlockBytes(_ type: UInt32) -> Int { type == 12 ? 144 : type == 13 ? 176 : 210 }

    /// Random rows of `type` (row bytes from the kernel), with finite, modest f16 scales written
    /// where each super-block keeps them (Q4_K, Q5_K: d, dmin at bytes 0-3; Q6_K: d at bytes 208-209).
    static func randomRows(type: UInt32, rows: Int, columns: Int, seed: UInt64) -> [UInt8] {
        let rowBytes = Int(fg_quantized_row_bytes(type, Int64(columns)))
        let blockBytes = Self.superBlockBytes(type)
        var rng = SeededGenerator(seed: seed)
        func next() -> UInt64 { rng.next() }
        var bytes = (0..<(rows * rowBytes)).map { _ in UInt8(truncatingIfNeeded: next()) }
        for block in stride(from: 0, to: bytes.count, by: blockBytes) {
            let scales: [Float] = type != 14 ? [Float(next() % 1000) / 40_000 + 1e-3, Float(next() % 1000) / 80_000]
                                             : [Float(next() % 1000) / 100_000 + 1e-4]
            var halves = [UInt16](repeating: 0, count: scales.count)
            fg_f32_to_f16_array(&halves, scales, Int64(scales.count))
            let at = type != 14 ? block : block + 208
            for (i, h) in halves.enumerated() {
                bytes[at + 2 * i] = UInt8(h & 0xFF)
                bytes[at + 2 * i + 1] = UInt8(h >> 8)
            }
        }
        return bytes
    }

    /// Random rows of any kept type: K-quant super-blocks (types 12-14) or 32-weight blocks.
    static func randomWeightRows(type: UInt32, rows: Int, columns: Int, seed: UInt64) -> [UInt8] {
        type >= 12 ? randomRows(type: type, rows: rows, columns: columns, seed: seed)
                   : randomBlockRows(type: type, rows: rows, columns: columns, seed: seed)
    }

    /// A weight of `rows` × `columns` random rows of `type`, kept quantized (no float copy).
    static func quantizedWeight(type: UInt32, rows: Int, columns: Int, seed: UInt64) -> LinearWeight {
        let bytes = randomWeightRows(type: type, rows: rows, columns: columns, seed: seed)
        let data = UnsafeMutableRawPointer.allocate(byteCount: bytes.count, alignment: 64)
        bytes.withUnsafeBytes { data.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        return LinearWeight(outFeatures: rows, inFeatures: columns, quantized: .init(type: type, rowBytes: bytes.count / rows, data: data))
    }

    /// The largest |y[r] − Σ dense[r]·x| (in double) over the rows, and the largest Σ|dense[r]·x|.
    static func error(of y: [Float], dense: [Float], columns: Int, x: [Float]) -> (worst: Double, scale: Double) {
        var worst = 0.0, scale = 0.0
        for r in y.indices {
            let expected = (0..<columns).reduce(0.0) { $0 + Double(dense[r * columns + $1]) * Double(x[$1]) }
            worst = max(worst, abs(Double(y[r]) - expected))
            scale = max(scale, (0..<columns).reduce(0.0) { $0 + abs(Double(dense[r * columns + $1]) * Double(x[$1])) })
        }
        return (worst, scale)
    }

    /// Random rows of a 32-weight block type (Q4_0 18 bytes, Q4_1 20, Q5_0 22, Q8_0 34 a block), with
    /// modest f16 scales (and Q4_1's minimums) in each block's leading bytes.
    static func randomBlockRows(type: UInt32, rows: Int, columns: Int, seed: UInt64) -> [UInt8] {
        let blockBytes = [2: 18, 3: 20, 6: 22, 8: 34][type]!
        var rng = SeededGenerator(seed: seed)
        var bytes = (0..<(rows * columns / 32 * blockBytes)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        for block in stride(from: 0, to: bytes.count, by: blockBytes) {
            let scales: [Float] = type == 3 ? [Float(rng.next() % 1000) / 40_000 + 1e-3, -Float(rng.next() % 1000) / 8_000]
                                            : [Float(rng.next() % 1000) / 40_000 + 1e-3]
            var halves = [UInt16](repeating: 0, count: scales.count)
            fg_f32_to_f16_array(&halves, scales, Int64(scales.count))
            for (i, h) in halves.enumerated() {
                bytes[block + 2 * i] = UInt8(h & 0xFF)
                bytes[block + 2 * i + 1] = UInt8(h >> 8)
            }
        }
        return bytes
    }

    /// The decode path's products with Q4_0, Q4_1, Q5_0 and Q8_0 rows (each block's d·Σq·x plus m·Σx),
    /// on an odd number of blocks (7) and on SmolLM2's 18.
    @Test(arguments: [(UInt32(2), "Q4_0"), (UInt32(3), "Q4_1"), (UInt32(6), "Q5_0"), (UInt32(8), "Q8_0")])
    func blocksOf32MatvecEqualsTheDequantizedRowsTimesX(type: UInt32, name: String) throws {
        // Q5_0 has blocks of 32 too, but neither the int8 kernels nor the batch tile's vector code read it.
        #expect(fg_quantized_type_has_blocks_of_32(type) == (type == 6 ? 0 : 1))
        for columns in [224, 576] {
            let rows = 29
            let w = Self.randomBlockRows(type: type, rows: rows, columns: columns, seed: UInt64(type) &* 31 &+ UInt64(columns))
            var dense = [Float](repeating: 0, count: rows * columns)
            #expect(fg_dequantize(type, w, &dense, Int64(rows * columns)) == 0)
            let x = (0..<columns).map { Float(sin(Double($0) * 0.37)) + 0.25 }
            var y = [Float](repeating: .nan, count: rows)
            #expect(fg_matvec_quantized(type, w, Int64(columns), x, &y, 0, Int64(rows)) == 0)
            let (worst, scale) = Self.error(of: y, dense: dense, columns: columns, x: x)
            // Float32 sums in another order (the offsets m·Σx apart from the block sums): measured
            // ≤ 1.2e-7 of Σ|w·x| (Q5_0; Zen 3); the K-quants' bound, 1e-6.
            print("\(name) matvec, \(columns) columns: max |Δ| \(worst), Σ|w·x| up to \(scale)")
            #expect(worst <= 1e-6 * scale, "\(name) \(columns): max |Δ| \(worst) against Σ|w·x| \(scale)")
        }
    }

    @Test(arguments: [(UInt32(12), "Q4_K"), (UInt32(13), "Q5_K"), (UInt32(14), "Q6_K")])
    func matvecEqualsTheDequantizedRowsTimesX(type: UInt32, name: String) throws {
        let rows = 37, columns = 768
        let rowBytes = Int(fg_quantized_row_bytes(type, Int64(columns)))
        #expect(rowBytes == columns / 256 * Self.superBlockBytes(type))
        #expect(fg_quantized_row_bytes(type, 320) == 0, "K-quants need whole super-blocks of 256")
        #expect(fg_quantized_type_has_blocks_of_32(type) == 0)
        let w = Self.randomRows(type: type, rows: rows, columns: columns, seed: UInt64(type))
        var dense = [Float](repeating: 0, count: rows * columns)
        #expect(fg_dequantize(type, w, &dense, Int64(rows * columns)) == 0)
        #expect(dense.allSatisfy { $0.isFinite })
        let x = (0..<columns).map { Float(sin(Double($0) * 0.37)) + 0.25 }  // a mean ≠ 0 exercises the offsets
        var y = [Float](repeating: .nan, count: rows)
        #expect(fg_matvec_quantized(type, w, Int64(columns), x, &y, 0, Int64(rows)) == 0)
        let (worst, scale) = Self.error(of: y, dense: dense, columns: columns, x: x)
        // Float32 sums of 768 products in another order: measured ≤ 4.7e-8 of Σ|w·x| (Q6_K; Zen 3, x permuted
        // for the shuffle-free kernels; 4.3e-8 on Zen 4 before); bound 1e-6.
        print("\(name) matvec: max |Δ| \(worst), Σ|w·x| up to \(scale)")
        #expect(worst <= 1e-6 * scale, "\(name): max |Δ| \(worst) against Σ|w·x| \(scale)")
        // A row range writes only its rows.
        var part = [Float](repeating: -7, count: rows)
        #expect(fg_matvec_quantized(type, w, Int64(columns), x, &part, 5, 9) == 0)
        #expect(part[4] == -7 && part[9] == -7 && Array(part[5..<9]) == Array(y[5..<9]))
    }

    /// The small-batch product (batched decoding, and every batch of K-quant or Q5_0 rows) for each
    /// kept type, on 1, 3 and 17 rows of X: Y[m, r] against the dequantized rows times X[m] in double,
    /// with the weight rows split in two ranges as two threads would take them.
    @Test(arguments: [UInt32(2), 3, 6, 8, 12, 13, 14])
    func smallBatchProductEqualsTheDequantizedRowsTimesX(type: UInt32) throws {
        let rows = 23, columns = 512
        let w = Self.randomWeightRows(type: type, rows: rows, columns: columns, seed: UInt64(type) &+ 99)
        var dense = [Float](repeating: 0, count: rows * columns)
        #expect(fg_dequantize(type, w, &dense, Int64(rows * columns)) == 0)
        for m in [1, 3, 17] {
            let x = (0..<(m * columns)).map { Float(sin(Double($0) * 0.23)) + 0.1 }
            var packed = [Float](repeating: .nan, count: Int(fg_packed_rows(Int64(m))) * columns)
            fg_pack_kmajor(x, Int64(m), Int64(columns), Int64(columns), &packed)
            var y = [Float](repeating: .nan, count: m * rows)
            #expect(fg_matmul_quantized_packed(type, w, Int64(columns), packed, Int64(m), &y, Int64(rows), 0, 10) == 0)
            #expect(fg_matmul_quantized_packed(type, w, Int64(columns), packed, Int64(m), &y, Int64(rows), 10, Int64(rows)) == 0)
            for i in 0..<m {
                let xi = Array(x[(i * columns)..<((i + 1) * columns)])
                let (worst, scale) = Self.error(of: Array(y[(i * rows)..<((i + 1) * rows)]), dense: dense, columns: columns, x: xi)
                // Each element is one float32 sum in k order over the dequantized weights (Q4 tiles
                // round q·d + m once, gguf-py twice): measured ≤ 1.9e-7 of Σ|w·x| (Q5_K; Zen 3); bound 1e-6.
                if i == 0 { print("type \(type) small batch of \(m): max |Δ| \(worst), Σ|w·x| up to \(scale)") }
                #expect(worst <= 1e-6 * scale, "type \(type), \(m) rows, row \(i): max |Δ| \(worst) against \(scale)")
            }
        }
        // Rows of X that pick one column each read the tile's weights themselves: for Q5_0 and the
        // K-quants its vector dequantization gives fg_dequantize's (gguf-py's) values bit for bit.
        // (The Q4 and Q8_0 tiles take q·d + m in one rounding, so they are held to the bound above.)
        guard fg_quantized_type_has_blocks_of_32(type) == 0 else { return }
        let picks = [0, 1, 31, 32, 255, 256, 300, 511]
        var onehot = [Float](repeating: 0, count: picks.count * columns)
        for (i, k) in picks.enumerated() { onehot[i * columns + k] = 1 }
        var packed = [Float](repeating: .nan, count: Int(fg_packed_rows(Int64(picks.count))) * columns)
        fg_pack_kmajor(onehot, Int64(picks.count), Int64(columns), Int64(columns), &packed)
        var y = [Float](repeating: .nan, count: picks.count * rows)
        #expect(fg_matmul_quantized_packed(type, w, Int64(columns), packed, Int64(picks.count), &y, Int64(rows), 0, Int64(rows)) == 0)
        for (i, k) in picks.enumerated() {
            #expect((0..<rows).allSatisfy { y[i * rows + $0] == dense[$0 * columns + k] }, "type \(type), column \(k)")
        }
    }

    /// Two rows of K-quant products go through the single-row kernel, alone or fused with other
    /// products of the same input: each row's result is the single-token step's, bit for bit (Q4_1
    /// and Q8_0 take only one row so, and their two rows go through the tile: not bit for bit).
    @Test(arguments: [UInt32(3), 8, 12])
    func fewRowsTakeTheSingleRowKernel(type: UInt32) throws {
        let rows = 40, columns = 256
        let w = Self.quantizedWeight(type: type, rows: rows, columns: columns, seed: 8)
        let limit = 2
        #expect(LinearWeight.rowsBySingleRowKernel(type: type) == (type == 12 ? 2 : 1))
        let x = (0..<(limit * columns)).map { Float(sin(Double($0) * 0.07)) }
        var single = [Float](repeating: .nan, count: limit * rows)
        for t in 0..<limit {
            x.withUnsafeBufferPointer { xb in single.withUnsafeMutableBufferPointer { yb in
                w.forward(xb.baseAddress! + t * columns, rows: 1, into: yb.baseAddress! + t * rows)
            } }
        }
        var batch = [Float](repeating: .nan, count: limit * rows), fused = batch
        w.forward(x, rows: limit, into: &batch)
        fused.withUnsafeMutableBufferPointer { yb in
            x.withUnsafeBufferPointer { xb in LinearWeight.forward([(w, yb.baseAddress!)], input: xb.baseAddress!, rows: limit) }
        }
        #expect((batch == single) == (type == 12))
        #expect((fused == single) == (type == 12))
        #expect(!w.hasDenseCopy)
    }

    /// With `int8` arithmetic, products of one input that mix Q4_K (int8 applies) and Q6_K (it does
    /// not) each take their own arithmetic: the Q6_K output is the exact one bit for bit, the Q4_K
    /// one the int8 kernel's (within the activation rounding of the exact one, never equal to it).
    @Test func int8AppliesToQ4KBesideExactQ6K() throws {
        let rows = 16, columns = 512
        let q4k = Self.quantizedWeight(type: 12, rows: rows, columns: columns, seed: 12)
        let q6k = Self.quantizedWeight(type: 14, rows: rows, columns: columns, seed: 14)
        #expect(q4k.supportsInt8 && !q6k.supportsInt8)
        let x = (0..<columns).map { Float(sin(Double($0) * 0.19)) }
        var exact4 = [Float](repeating: .nan, count: rows), exact6 = exact4, int8_4 = exact4, int8_6 = exact4
        q4k.forward(x, rows: 1, into: &exact4)
        q6k.forward(x, rows: 1, into: &exact6)
        int8_4.withUnsafeMutableBufferPointer { a in int8_6.withUnsafeMutableBufferPointer { b in
            LinearWeight.forward([(q4k, a.baseAddress!), (q6k, b.baseAddress!)], input: x, rows: 1, arithmetic: .int8)
        } }
        #expect(int8_6 == exact6)
        #expect(int8_4 != exact4)
        let scale = exact4.map(abs).max() ?? 1
        let worst = zip(int8_4, exact4).map { abs($0 - $1) }.max() ?? .infinity
        // int8 activations round each x to 1/254 of its block's largest: measured 0.24% of the
        // outputs' scale here; the kernel tests' bound, 2%.
        print("int8 Q4_K beside exact Q6_K: max |Δ| \(worst) against a scale of \(scale)")
        #expect(worst <= 0.02 * scale, "max |Δ| \(worst) against \(scale)")
    }

    /// A K-quant weight multiplies a batch larger than the small-batch limit from its quantized rows,
    /// in pieces, without making its float copy; once the copy exists (training makes it) the batch
    /// goes through it. A Q4_1 weight (a small model's type) makes its copy for such a batch.
    @Test func largeBatchesOfKQuantRowsNeverMakeTheFloatCopy() throws {
        let rows = 40, columns = 256, batch = LinearWeight.quantizedBatchLimit + 37
        func weight(_ type: UInt32) -> LinearWeight { Self.quantizedWeight(type: type, rows: rows, columns: columns, seed: 5) }
        let x = (0..<(batch * columns)).map { Float(cos(Double($0) * 0.11)) }
        let kquant = weight(12)
        #expect(kquant.prefersQuantizedRows)
        var fromRows = [Float](repeating: .nan, count: batch * rows)
        kquant.forward(x, rows: batch, into: &fromRows)
        #expect(!kquant.hasDenseCopy)
        var fromCopy = [Float](repeating: .nan, count: batch * rows)
        let dense = Array(UnsafeBufferPointer(start: kquant.dense.pointer, count: rows * columns))
        #expect(!kquant.prefersQuantizedRows)
        kquant.forward(x, rows: batch, into: &fromCopy)
        // Both against the dequantized rows in double, for rows of X in both pieces (0-63, 64-100):
        // float32 sums in another order, the bound of the tests above.
        for i in [0, 63, 64, batch - 1] {
            let xi = Array(x[(i * columns)..<((i + 1) * columns)])
            for y in [fromRows, fromCopy] {
                let (worst, scale) = Self.error(of: Array(y[(i * rows)..<((i + 1) * rows)]), dense: dense, columns: columns, x: xi)
                #expect(worst <= 1e-6 * scale, "X row \(i): max |Δ| \(worst) against Σ|w·x| \(scale)")
            }
        }

        let q41 = weight(3)
        #expect(!q41.prefersQuantizedRows)
        var y = [Float](repeating: .nan, count: batch * rows)
        q41.forward(x, rows: batch, into: &y)
        #expect(q41.hasDenseCopy)
    }
}
