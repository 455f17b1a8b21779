import CKernels
import Engine
import Foundation
import Testing

/// The K-quant single-token products (Q4_K, Q6_K) against the dequantized rows (gguf-py-exact
/// dequantization, `fg_dequantize`) times x, on random super-blocks with every bit pattern of the
/// nibbles, high pairs and packed scales.
struct KQuantKernelTests {
    /// Random rows of `type` (row bytes from the kernel), with finite, modest f16 scales written
    /// where each super-block keeps them (Q4_K: d, dmin at bytes 0-3; Q6_K: d at bytes 208-209).
    static func randomRows(type: UInt32, rows: Int, columns: Int, seed: UInt64) -> [UInt8] {
        let rowBytes = Int(fg_quantized_row_bytes(type, Int64(columns)))
        let blockBytes = type == 12 ? 144 : 210
        var rng = SeededGenerator(seed: seed)
        func next() -> UInt64 { rng.next() }
        var bytes = (0..<(rows * rowBytes)).map { _ in UInt8(truncatingIfNeeded: next()) }
        for block in stride(from: 0, to: bytes.count, by: blockBytes) {
            let scales: [Float] = type == 12 ? [Float(next() % 1000) / 40_000 + 1e-3, Float(next() % 1000) / 80_000]
                                             : [Float(next() % 1000) / 100_000 + 1e-4]
            var halves = [UInt16](repeating: 0, count: scales.count)
            fg_f32_to_f16_array(&halves, scales, Int64(scales.count))
            let at = type == 12 ? block : block + 208
            for (i, h) in halves.enumerated() {
                bytes[at + 2 * i] = UInt8(h & 0xFF)
                bytes[at + 2 * i + 1] = UInt8(h >> 8)
            }
        }
        return bytes
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

    /// Random rows of a 32-weight block type (Q4_0 18 bytes, Q4_1 20, Q8_0 34 a block), with modest
    /// f16 scales (and Q4_1's minimums) in each block's leading bytes.
    static func randomBlockRows(type: UInt32, rows: Int, columns: Int, seed: UInt64) -> [UInt8] {
        let blockBytes = type == 2 ? 18 : type == 3 ? 20 : 34
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

    /// The decode path's products with Q4_0, Q4_1 and Q8_0 rows (each block's d·Σq·x plus m·Σx), on
    /// an odd number of blocks (7) and on SmolLM2's 18.
    @Test(arguments: [(UInt32(2), "Q4_0"), (UInt32(3), "Q4_1"), (UInt32(8), "Q8_0")])
    func blocksOf32MatvecEqualsTheDequantizedRowsTimesX(type: UInt32, name: String) throws {
        #expect(fg_quantized_type_has_blocks_of_32(type) == 1)
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
            // ≤ 1.1e-7 of Σ|w·x| (Zen 3); the K-quants' bound, 1e-6.
            print("\(name) matvec, \(columns) columns: max |Δ| \(worst), Σ|w·x| up to \(scale)")
            #expect(worst <= 1e-6 * scale, "\(name) \(columns): max |Δ| \(worst) against Σ|w·x| \(scale)")
        }
    }

    @Test(arguments: [(UInt32(12), "Q4_K"), (UInt32(14), "Q6_K")])
    func matvecEqualsTheDequantizedRowsTimesX(type: UInt32, name: String) throws {
        let rows = 37, columns = 768
        let rowBytes = Int(fg_quantized_row_bytes(type, Int64(columns)))
        #expect(rowBytes == columns / 256 * (type == 12 ? 144 : 210))
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
        // Float32 sums of 768 products in another order: measured ≤ 4.3e-8 of Σ|w·x| (Zen 4); bound 1e-6.
        print("\(name) matvec: max |Δ| \(worst), Σ|w·x| up to \(scale)")
        #expect(worst <= 1e-6 * scale, "\(name): max |Δ| \(worst) against Σ|w·x| \(scale)")
        // A row range writes only its rows.
        var part = [Float](repeating: -7, count: rows)
        #expect(fg_matvec_quantized(type, w, Int64(columns), x, &part, 5, 9) == 0)
        #expect(part[4] == -7 && part[9] == -7 && Array(part[5..<9]) == Array(y[5..<9]))
    }
}
