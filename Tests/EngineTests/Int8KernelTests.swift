import CKernels
import Foundation
import Testing

/// The int8-activation kernels (`fg_int8.h`) against double-precision references.
struct Int8KernelTests {
    /// Random Q4_0 (type 2) or Q4_1 (type 3) rows with realistic scales, and their float values.
    static func randomQ4(type: UInt32, rows: Int, C: Int, seed: UInt64) -> (bytes: [UInt8], dense: [Float]) {
        if type == 12 {  // Q4_K: random super-blocks as the K-quant kernel tests make them
            let bytes = KQuantKernelTests.randomRows(type: type, rows: rows, columns: C, seed: seed)
            var dense = [Float](repeating: 0, count: rows * C)
            #expect(fg_dequantize(type, bytes, &dense, Int64(rows * C)) == 0)
            return (bytes, dense)
        }
        var values = KernelTests.Values(state: seed)
        let blockBytes = type == 3 ? 20 : 18
        var bytes = [UInt8](repeating: 0, count: rows * C / 32 * blockBytes)
        for b in 0..<(rows * C / 32) {
            let base = b * blockBytes
            let d = Float16(0.01 + 0.02 * abs(values.next())).bitPattern
            bytes[base] = UInt8(d & 0xFF)
            bytes[base + 1] = UInt8(d >> 8)
            if type == 3 {
                let m = Float16(-0.1 * abs(values.next())).bitPattern
                bytes[base + 2] = UInt8(m & 0xFF)
                bytes[base + 3] = UInt8(m >> 8)
            }
            for i in (base + blockBytes - 16)..<(base + blockBytes) { bytes[i] = UInt8(truncatingIfNeeded: Int(values.next() * 1000) & 0xFF) }
        }
        var dense = [Float](repeating: 0, count: rows * C)
        #expect(fg_dequantize(type, bytes, &dense, Int64(rows * C)) == 0)
        return (bytes, dense)
    }

    /// The quantized activations of an fg_quantize_activations buffer: (scales (M, C/32), q (M, C)).
    static func unpackActivations(_ buffer: UnsafeRawPointer, M: Int, C: Int) -> (d: [Float], q: [Int8]) {
        let nb = C / 32
        let d = Array(UnsafeBufferPointer(start: buffer.assumingMemoryBound(to: Float.self), count: M * nb))
        let qOffset = (8 * M * nb + 31) / 32 * 32
        let q = Array(UnsafeBufferPointer(start: (buffer + qOffset).assumingMemoryBound(to: Int8.self), count: M * C))
        return (d, q)
    }

    @Test(arguments: [1, 7, 33])
    func activationsRoundToTheNearestStepOfTheirBlockScale(M: Int) {
        let C = 96
        var values = KernelTests.Values(state: 7)
        var x = values.array(M * C, 3)
        x[5] = 0  // a zero in a block with others
        for k in 32..<64 { x[k] = 0 }  // an all-zero block (row 0, block 1)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: Int(fg_int8_activation_bytes(Int64(M), Int64(C))), alignment: 64)
        defer { buffer.deallocate() }
        #expect(fg_quantize_activations(x, Int64(M), Int64(C), Int64(C), buffer) == 0)
        let (d, q) = Self.unpackActivations(UnsafeRawPointer(buffer), M: M, C: C)
        for m in 0..<M {
            for b in 0..<(C / 32) {
                let block = x[(m * C + b * 32)..<(m * C + b * 32 + 32)]
                let amax = block.map(abs).max()!
                #expect(d[m * (C / 32) + b] == amax / 127)
                for k in 0..<32 {
                    let qv = q[m * C + b * 32 + k]
                    #expect(abs(Int(qv)) <= 127)
                    #expect(abs(Float(qv) * d[m * (C / 32) + b] - block[block.startIndex + k]) <= amax / 254 * 1.0001)
                }
            }
        }
        #expect(fg_quantize_activations(x, 1, 40, 40, buffer) == -1)  // C not a multiple of 32
    }

    /// Shapes crossing the kernel's boundaries: 8-row panels (and a partial last one), 6-row
    /// activation tiles, and 120-row activation chunks; Q4_K over one and two super-blocks.
    @Test(arguments: [(UInt32(3), 1, 64, 8), (3, 7, 96, 13), (3, 32, 576, 40), (2, 6, 64, 17), (2, 131, 64, 9),
                      (12, 1, 256, 8), (12, 7, 512, 21)])
    func productMatchesTheDequantizedDefinitionExactly(type: UInt32, M: Int, C: Int, rows: Int) {
        let (weights, dense) = Self.randomQ4(type: type, rows: rows, C: C, seed: UInt64(M * 1000 + rows))
        var values = KernelTests.Values(state: UInt64(C))
        let x = values.array(M * C, 2)
        let xq = UnsafeMutableRawPointer.allocate(byteCount: Int(fg_int8_activation_bytes(Int64(M), Int64(C))), alignment: 64)
        let packed = UnsafeMutableRawPointer.allocate(byteCount: Int(fg_int8_packed_bytes(type, Int64(rows), Int64(C))), alignment: 64)
        defer { xq.deallocate(); packed.deallocate() }
        #expect(fg_quantize_activations(x, Int64(M), Int64(C), Int64(C), xq) == 0)
        #expect(fg_int8_pack_weights(type, weights, Int64(rows), Int64(C), packed) == 0)
        // Packed panel by panel (as threads do) the bytes are the same.
        let bytes = Int(fg_int8_packed_bytes(type, Int64(rows), Int64(C))), panels = (rows + 7) / 8
        let byPanels = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        defer { byPanels.deallocate() }
        for p in 0..<panels {
            #expect(fg_int8_pack_weight_panels(type, weights, Int64(rows), Int64(C), byPanels, Int64(p), Int64(p + 1)) == 0)
        }
        #expect(memcmp(packed, byPanels, bytes) == 0)
        #expect(fg_int8_pack_weight_panels(type, weights, Int64(rows), Int64(C), byPanels, 0, Int64(panels + 1)) == -1)
        var y = [Float](repeating: .nan, count: M * rows)
        #expect(fg_matmul_int8(type, packed, Int64(C), xq, Int64(M), &y, Int64(rows), 0, Int64(rows)) == 0)

        // The integer dot products are exact, so the only differences are float roundings of the
        // per-block scaling: within 1e-5 of the output's scale.
        let (d, q) = Self.unpackActivations(UnsafeRawPointer(xq), M: M, C: C)
        var worst = 0.0, scale = 0.0, vsFloat = 0.0
        for m in 0..<M {
            for r in 0..<rows {
                var quantized = 0.0, exact = 0.0
                for k in 0..<C {
                    quantized += Double(dense[r * C + k]) * Double(d[m * (C / 32) + k / 32]) * Double(q[m * C + k])
                    exact += Double(dense[r * C + k]) * Double(x[m * C + k])
                }
                worst = max(worst, abs(quantized - Double(y[m * rows + r])))
                vsFloat = max(vsFloat, abs(exact - Double(y[m * rows + r])))
                scale = max(scale, abs(exact))
            }
        }
        #expect(worst <= 1e-5 * scale, "max error \(worst) against the quantized-activation definition (scale \(scale))")
        // Against float activations the error is the activation rounding: ~0.2-1% of the scale.
        #expect(vsFloat <= 0.02 * scale, "max error \(vsFloat) against float activations (scale \(scale))")

        // Splitting the rows at panel boundaries (as threads do) gives the same bits.
        var split = [Float](repeating: .nan, count: M * rows)
        var r0 = 0
        while r0 < rows {
            let r1 = min(rows, r0 + 8)
            #expect(fg_matmul_int8(type, packed, Int64(C), xq, Int64(M), &split, Int64(rows), Int64(r0), Int64(r1)) == 0)
            r0 = r1
        }
        #expect(split == y)
    }

    @Test func rejectsWhatItCannotMultiply() {
        let xq = UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 64)
        defer { xq.deallocate() }
        var y = [Float](repeating: 0, count: 64)
        #expect(fg_int8_packed_bytes(8, 8, 64) == 0)  // Q8_0 is not offered
        #expect(fg_int8_packed_bytes(3, 8, 40) == 0)  // C not a multiple of 32
        #expect(fg_int8_packed_bytes(12, 8, 288) == 0)  // Q4_K needs whole super-blocks of 256
        #expect(fg_int8_packed_bytes(14, 8, 256) == 0)  // Q6_K is not offered
        #expect(fg_int8_pack_weights(0, xq, 8, 64, xq) == -1)
        #expect(fg_matmul_int8(3, xq, 64, xq, 1, &y, 16, 4, 16) == -1)  // r0 off a panel boundary
        #expect(fg_matmul_int8(8, xq, 64, xq, 1, &y, 16, 0, 16) == -1)
    }
}
