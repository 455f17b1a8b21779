import CKernels
import Engine

// Shape legend: T = rows, C = channels, H / KVH = query / key-value heads, D = head size,
// QD = H·D, KVD = KVH·D, F = MLP width, V = vocabulary, R = head rows.
//
// Each layer is an explicit forward/backward pair over caller-owned buffers (as in llm.c): the
// forward writes what the backward needs into buffers the caller keeps, the backward writes or
// accumulates input gradients and says which. Frozen weights never receive gradients.

/// Work sizes for splitting the O(T·C) kernels over the thread team.
enum Elementwise {
    /// Fewest elements worth handing to a thread (below this the hand-off costs more than it saves).
    static let minimumPerChunk = 1 << 14

    /// Fewest rows of `channels` floats worth handing to a thread.
    static func rowsPerChunk(channels C: Int) -> Int { max(1, minimumPerChunk / max(C, 1)) }

    /// out (n) = a + b, split over the team.
    static func add(_ out: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count n: Int) {
        Parallel.forRange(n, minimumPerChunk: minimumPerChunk) { lo, hi in
            fg_add3(out + lo, a + lo, b + lo, Int64(hi - lo))
        }
    }
}

/// RMSNorm: out = weight ⊙ x / rms(x). reference: Zhang & Sennrich 2019; HF LlamaRMSNorm.
enum RMSNormLayer {
    /// out (T, C) = rmsnorm(x (T, C)); keeps rstd (T). Bit-identical to the inference `fg_rmsnorm`.
    static func forward(_ out: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
                        _ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, rows T: Int, channels C: Int,
                        eps: Float) {
        Parallel.forRange(T, minimumPerChunk: Elementwise.rowsPerChunk(channels: C)) { a, b in
            fg_rmsnorm_forward_train(out + a * C, rstd + a, x + a * C, weight, Int64(b - a), Int64(C), eps)
        }
    }

    /// dx (T, C) += dout (T, C) back through the norm of x (T, C) with the kept rstd (T).
    static func backward(_ dx: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>, x: UnsafePointer<Float>,
                         weight: UnsafePointer<Float>, rstd: UnsafePointer<Float>, rows T: Int, channels C: Int) {
        Parallel.forRange(T, minimumPerChunk: Elementwise.rowsPerChunk(channels: C)) { a, b in
            fg_rmsnorm_backward(dx + a * C, dout + a * C, x + a * C, weight, rstd + a, Int64(b - a), Int64(C))
        }
    }
}

/// SwiGLU: out = silu(gate) ⊙ up. reference: Shazeer 2020, "GLU Variants Improve Transformer".
enum SwiGLULayer {
    /// out (n) = silu(gate) ⊙ up; the same kernel as inference. Keeps nothing beyond gate and up.
    static func forward(_ out: UnsafeMutablePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>,
                        count n: Int) {
        Parallel.forRange(n, minimumPerChunk: Elementwise.minimumPerChunk) { a, b in
            fg_silu_mul(out + a, gate + a, up + a, Int64(b - a))
        }
    }

    /// dgate and dup (n) overwritten from dout (n).
    static func backward(dGate: UnsafeMutablePointer<Float>, dUp: UnsafeMutablePointer<Float>,
                         _ dout: UnsafePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>,
                         count n: Int) {
        Parallel.forRange(n, minimumPerChunk: Elementwise.minimumPerChunk) { a, b in
            fg_swiglu_backward(dGate + a, dUp + a, dout + a, gate + a, up + a, Int64(b - a))
        }
    }
}
