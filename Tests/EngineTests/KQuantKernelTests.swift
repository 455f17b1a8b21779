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
        var worst = 0.0, scale = 0.0
        for r in 0..<rows {
            let expected = (0..<columns).reduce(0.0) { $0 + Double(dense[r * columns + $1]) * Double(x[$1]) }
            worst = max(worst, abs(Double(y[r]) - expected))
            scale = max(scale, (0..<columns).reduce(0.0) { $0 + abs(Double(dense[r * columns + $1]) * Double(x[$1])) })
        }
        // Float32 sums of 768 products in another order: measured ≤ 4.3e-8 of Σ|w·x| (Zen 4); bound 1e-6.
        print("\(name) matvec: max |Δ| \(worst), Σ|w·x| up to \(scale)")
        #expect(worst <= 1e-6 * scale, "\(name): max |Δ| \(worst) against Σ|w·x| \(scale)")
        // A row range writes only its rows.
        var part = [Float](repeating: -7, count: rows)
        #expect(fg_matvec_quantized(type, w, Int64(columns), x, &part, 5, 9) == 0)
        #expect(part[4] == -7 && part[9] == -7 && Array(part[5..<9]) == Array(y[5..<9]))
    }
}
