import CKernels
import Engine

// Shape legend: R = head rows (rows whose next token is a target), C = hidden size, V = vocabulary.

/// Output head on R selected rows: final RMSNorm, logits = h·Wᵀ, log-softmax at the target.
///
/// Two ways to run it. `forward` keeps the (R, V) logits for a later `backward` (DPO, whose row
/// weights depend on every sequence's log-probability). `forwardWithGradient` takes the row weights
/// up front (SFT) and runs forward and backward together over blocks of rows, so only one block of
/// logits exists at a time: 50 MB instead of 200 MB for 1,024 rows of SmolLM2's vocabulary. Both run
/// every row through the same kernels; the matrix products over blocks of other sizes may round a
/// logit's last bit differently (the fused-head test bounds the difference).
enum OutputHeadLayer {
    /// Rows of logits the fused path holds at once.
    static let blockRows = 256

    /// From the gathered final hidden rows x (R, C): normed (R, C) and rstd (R) kept, logits (R, V)
    /// kept, lse and target log-probabilities (R) written.
    static func forward(x: UnsafePointer<Float>, normWeight: UnsafePointer<Float>, eps: Float,
                        weight W: UnsafePointer<Float>, rows R: Int, channels C: Int, vocabulary V: Int,
                        targets: [Int32], normed: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
                        logits: UnsafeMutablePointer<Float>, logSumExp: inout [Double], logProbabilities: inout [Double]) {
        RMSNormLayer.forward(normed, rstd: rstd, x, weight: normWeight, rows: R, channels: C, eps: eps)
        logSumExp = Array(repeating: 0, count: R)
        logProbabilities = Array(repeating: 0, count: R)
        logitsAndLogProbabilities(normed: normed, weight: W, rows: 0..<R, channels: C, vocabulary: V, targets: targets,
                                  logits: logits, logSumExp: &logSumExp, logProbabilities: &logProbabilities)
    }

    /// Backward of Σ_r −rowWeights[r]·logprob[r]: logits (R, V) become dlogits in place, dNormed (R, C)
    /// is scratch, dx (R, C) is overwritten with the gradient of the gathered rows.
    static func backward(dx: UnsafeMutablePointer<Float>, rowWeights: [Float], x: UnsafePointer<Float>,
                         normWeight: UnsafePointer<Float>, weight W: UnsafePointer<Float>, rows R: Int,
                         channels C: Int, vocabulary V: Int, targets: [Int32], rstd: UnsafePointer<Float>,
                         logits: UnsafeMutablePointer<Float>, logSumExp: [Double],
                         dNormed: UnsafeMutablePointer<Float>) {
        normedGradient(rowWeights: rowWeights, weight: W, rows: 0..<R, channels: C, vocabulary: V, targets: targets,
                       logits: logits, logSumExp: logSumExp, dNormed: dNormed)
        dx.update(repeating: 0, count: R * C)
        RMSNormLayer.backward(dx, dNormed, x: x, weight: normWeight, rstd: rstd, rows: R, channels: C)
    }

    /// `forward` then `backward` with known row weights, over blocks of `blockRows` rows sharing the
    /// (blockRows, V) buffer `block`: lse and target log-probabilities (R) written, dx (R, C)
    /// overwritten with the gradient of the gathered rows; normed (R, C) and dNormed (R, C) are scratch.
    static func forwardWithGradient(x: UnsafePointer<Float>, normWeight: UnsafePointer<Float>, eps: Float,
                                    weight W: UnsafePointer<Float>, rows R: Int, channels C: Int, vocabulary V: Int,
                                    targets: [Int32], rowWeights: [Float], normed: UnsafeMutablePointer<Float>,
                                    rstd: UnsafeMutablePointer<Float>, block: UnsafeMutablePointer<Float>,
                                    dNormed: UnsafeMutablePointer<Float>, dx: UnsafeMutablePointer<Float>,
                                    logSumExp: inout [Double], logProbabilities: inout [Double]) {
        RMSNormLayer.forward(normed, rstd: rstd, x, weight: normWeight, rows: R, channels: C, eps: eps)
        logSumExp = Array(repeating: 0, count: R)
        logProbabilities = Array(repeating: 0, count: R)
        for r0 in stride(from: 0, to: R, by: blockRows) {
            let rows = r0..<min(r0 + blockRows, R)
            logitsAndLogProbabilities(normed: normed, weight: W, rows: rows, channels: C, vocabulary: V, targets: targets,
                                      logits: block, logSumExp: &logSumExp, logProbabilities: &logProbabilities)
            normedGradient(rowWeights: rowWeights, weight: W, rows: rows, channels: C, vocabulary: V, targets: targets,
                           logits: block, logSumExp: logSumExp, dNormed: dNormed)
        }
        dx.update(repeating: 0, count: R * C)
        RMSNormLayer.backward(dx, dNormed, x: x, weight: normWeight, rstd: rstd, rows: R, channels: C)
    }

    /// logits (rows, V) = normed[rows] · Wᵀ, then lse and target log-probability of each row (written
    /// at the row's index). `logits` holds the block's rows from its start.
    private static func logitsAndLogProbabilities(normed: UnsafePointer<Float>, weight W: UnsafePointer<Float>,
                                                  rows: Range<Int>, channels C: Int, vocabulary V: Int,
                                                  targets: [Int32], logits: UnsafeMutablePointer<Float>,
                                                  logSumExp: inout [Double], logProbabilities: inout [Double]) {
        let n = rows.count, r0 = rows.lowerBound
        Matmul.sgemm(transposeB: true, M: n, N: V, K: C, A: normed + r0 * C, lda: C, B: W, ldb: C, C: logits, ldc: V)
        logSumExp.withUnsafeMutableBufferPointer { lse in
            logProbabilities.withUnsafeMutableBufferPointer { lp in
                targets.withUnsafeBufferPointer { targets in
                    let lse = lse.baseAddress! + r0, lp = lp.baseAddress! + r0, targets = targets.baseAddress! + r0
                    Parallel.forRange(n) { a, b in
                        fg_target_log_softmax(logits + a * V, targets + a, Int64(b - a), Int64(V), lse + a, lp + a)
                    }
                }
            }
        }
    }

    /// logits (rows, V) become dlogits of Σ −rowWeights[r]·logprob[r] in place, and
    /// dNormed[rows] (C each) = dlogits · W.
    private static func normedGradient(rowWeights: [Float], weight W: UnsafePointer<Float>, rows: Range<Int>,
                                       channels C: Int, vocabulary V: Int, targets: [Int32],
                                       logits: UnsafeMutablePointer<Float>, logSumExp: [Double],
                                       dNormed: UnsafeMutablePointer<Float>) {
        let n = rows.count, r0 = rows.lowerBound
        logSumExp.withUnsafeBufferPointer { lse in
            targets.withUnsafeBufferPointer { targets in
                rowWeights.withUnsafeBufferPointer { weights in
                    let lse = lse.baseAddress! + r0, targets = targets.baseAddress! + r0
                    let weights = weights.baseAddress! + r0
                    Parallel.forRange(n) { a, b in
                        fg_target_log_softmax_backward(logits + a * V, lse + a, targets + a, weights + a,
                                                       Int64(b - a), Int64(V))
                    }
                }
            }
        }
        Matmul.sgemm(transposeB: false, M: n, N: C, K: V, A: logits, lda: V, B: W, ldb: C, C: dNormed + r0 * C, ldc: C)
    }
}
