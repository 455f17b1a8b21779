import CKernels

/// The cosines and sines of the rotary angles of a batch's rows, computed once per forward pass
/// (`fg_rope_angles`, exactly as `fg_rope` computes them) and used by every layer, forward and
/// backward. reference: Su et al. 2021, "RoFormer"; HF `apply_rotary_pos_emb` (rotate-half layout).
public struct RotaryAngles: Sendable {
    /// Rows the angles are for.
    public let rowCount: Int
    private let half: Int
    private let cosines: [Float], sines: [Float]  // (rows, D/2) each

    /// The angles of rows at `positions` for heads of size D.
    public init(positions: [Int], headDimension D: Int, inverseFrequencies: [Float]) {
        let half = D / 2
        var cosines = [Float](repeating: 0, count: positions.count * half), sines = cosines
        cosines.withUnsafeMutableBufferPointer { c in
            sines.withUnsafeMutableBufferPointer { s in
                inverseFrequencies.withUnsafeBufferPointer { f in
                    for (t, p) in positions.enumerated() {
                        fg_rope_angles(c.baseAddress! + t * half, s.baseAddress! + t * half, Int64(D), f.baseAddress, Int64(p))
                    }
                }
            }
        }
        rowCount = positions.count
        self.half = half
        self.cosines = cosines
        self.sines = sines
    }

    /// Rotates x (rowCount, heads·D) in place, row t by its own angles: `sign` +1 is the rotation
    /// (bit-identical to `fg_rope`), -1 its transpose (the gradient through the rotation).
    public func rotate(_ x: UnsafeMutablePointer<Float>, heads: Int, sign: Float = 1) {
        guard rowCount > 0 else { return }
        let D = 2 * half, half = half
        cosines.withUnsafeBufferPointer { c in
            sines.withUnsafeBufferPointer { s in
                let c = c.baseAddress!, s = s.baseAddress!
                Parallel.forRange(rowCount, minimumPerChunk: max(1, (1 << 14) / max(heads * D, 1))) { a, b in
                    for t in a..<b {
                        fg_rope_table(x + t * heads * D, Int64(heads), Int64(D), c + t * half, s + t * half, sign)
                    }
                }
            }
        }
    }
}
