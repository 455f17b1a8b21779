import CKernels
import Engine

// Shape legend: T = rows, H / KVH = query / key-value heads, D = head size, QD = H·D, KVD = KVH·D,
// P = rows of a shared prefix, L = own rows of a span.

/// Causal grouped-query attention over packed sequences: each span (``AttentionSpan``) attends to
/// its shared prefix, if any, then causally to its own rows, and to nothing else.
/// reference: Vaswani et al. 2017; Ainslie et al. 2023 (GQA).
enum AttentionLayer {
    /// out (T, QD) from q (T, QD), k and v (T, KVD). Runs the inference kernel `fg_attention` per
    /// span and head, the prefix as the cache before the span's rows (start = P), so a span matches
    /// inference of its sequence exactly. Keeps nothing: the backward recomputes the probabilities.
    static func forward(_ out: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>, k: UnsafePointer<Float>,
                        v: UnsafePointer<Float>, spans: [AttentionSpan],
                        heads H: Int, kvHeads KVH: Int, headDimension D: Int) {
        let QD = H * D, KVD = KVH * D
        let keys = KeyRows(spans: spans, k: k, v: v, width: KVD)
        defer { keys.deallocate() }
        let scratchSize = spans.map { Int(fg_attention_scratch(Int64($0.length), Int64($0.prefixLength))) }.max() ?? 0
        Parallel.forRange(spans.count * H, minimumPerChunk: work(spans, D: D, heads: H) < 1 << 18 ? Int.max : 1) { a, b in
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: scratchSize)
            defer { scratch.deallocate() }
            for task in a..<b {
                let s = task / H, h = task % H, span = spans[s]
                let (sk, sv) = keys.rows(of: s)
                fg_attention(out + span.start * QD, Int64(QD), q + span.start * QD, Int64(QD), sk, sv,
                             Int64(KVD), Int64(D), Int64(span.length), Int64(span.prefixLength), Int64(H), Int64(KVH),
                             Int64(D), Int64(h), Int64(h + 1), scratch)
            }
        }
    }

    /// dq (T, QD) overwritten, dk and dv (T, KVD) overwritten, from dout (T, QD). Work is split by
    /// (span, kv head), so threads never write the same rows: a span with a prefix writes its keys'
    /// gradients into its own buffer, whose prefix part is added to the prefix rows afterwards, span
    /// by span in order (so the sums do not depend on the thread count).
    static func backward(dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>,
                         dv: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>,
                         q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                         spans: [AttentionSpan], heads H: Int, kvHeads KVH: Int, headDimension D: Int) {
        let QD = H * D, KVD = KVH * D
        let T = spans.map { $0.start + $0.length }.max() ?? 0
        dk.update(repeating: 0, count: T * KVD)
        dv.update(repeating: 0, count: T * KVD)
        let keys = KeyRows(spans: spans, k: k, v: v, width: KVD)
        defer { keys.deallocate() }
        // dK and dV of each span with a prefix: (P + L, KVD) each, zeroed.
        var offsets: [Int?] = [], total = 0
        for span in spans {
            offsets.append(span.prefixLength > 0 ? total : nil)
            if span.prefixLength > 0 { total += 2 * span.keyCount * KVD }
        }
        let own = UnsafeMutablePointer<Float>.allocate(capacity: max(total, 1))
        defer { own.deallocate() }
        own.initialize(repeating: 0, count: max(total, 1))
        let scratchSize = spans.map { Int(fg_attention_backward_scratch(Int64($0.length), Int64($0.prefixLength))) }.max() ?? 0
        Parallel.forRange(spans.count * KVH, minimumPerChunk: work(spans, D: D, heads: H) < 1 << 16 ? Int.max : 1) { a, b in
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: scratchSize)
            defer { scratch.deallocate() }
            for task in a..<b {
                let s = task / KVH, g = task % KVH, span = spans[s]
                let (sk, sv) = keys.rows(of: s)
                let (sdk, sdv) = offsets[s].map { (own + $0, own + $0 + span.keyCount * KVD) }
                    ?? (dk + span.start * KVD, dv + span.start * KVD)
                fg_attention_backward(dq + span.start * QD, sdk, sdv, dout + span.start * QD,
                                      q + span.start * QD, sk, sv, Int64(span.length), Int64(span.prefixLength),
                                      Int64(H), Int64(KVH), Int64(D), Int64(g), Int64(g + 1), scratch)
            }
        }
        for (s, span) in spans.enumerated() {
            guard let offset = offsets[s] else { continue }
            let sdk = own + offset, sdv = own + offset + span.keyCount * KVD
            let P = span.prefixLength
            (dk + span.start * KVD).update(from: sdk + P * KVD, count: span.length * KVD)
            (dv + span.start * KVD).update(from: sdv + P * KVD, count: span.length * KVD)
            fg_add(dk + span.prefixStart * KVD, sdk, Int64(P * KVD))
            fg_add(dv + span.prefixStart * KVD, sdv, Int64(P * KVD))
        }
    }

    /// Multiply-adds of the score products, to decide whether splitting over threads pays.
    private static func work(_ spans: [AttentionSpan], D: Int, heads H: Int) -> Int {
        spans.reduce(0) { $0 + $1.length * $1.keyCount } * H * D
    }
}

/// The key and value rows each span attends to, as one contiguous run of (P + L) rows: the packed
/// rows themselves when the prefix lies directly before the span's rows, otherwise a copy.
private struct KeyRows {
    let k: UnsafePointer<Float>, v: UnsafePointer<Float>
    let width: Int
    let spans: [AttentionSpan]
    /// Offset of each copied span's keys in `copies` (values follow its keys); nil when not copied.
    let offsets: [Int?]
    let copies: UnsafeMutablePointer<Float>?

    init(spans: [AttentionSpan], k: UnsafePointer<Float>, v: UnsafePointer<Float>, width: Int) {
        self.k = k
        self.v = v
        self.width = width
        self.spans = spans
        var offsets: [Int?] = [], total = 0
        for span in spans {
            offsets.append(span.keysAreContiguous ? nil : total)
            if !span.keysAreContiguous { total += 2 * span.keyCount * width }
        }
        self.offsets = offsets
        guard total > 0 else {
            copies = nil
            return
        }
        let copies = UnsafeMutablePointer<Float>.allocate(capacity: total)
        for (span, offset) in zip(spans, offsets) {
            guard let offset else { continue }
            let P = span.prefixLength, n = span.keyCount * width
            (copies + offset).update(from: k + span.prefixStart * width, count: P * width)
            (copies + offset + P * width).update(from: k + span.start * width, count: span.length * width)
            (copies + offset + n).update(from: v + span.prefixStart * width, count: P * width)
            (copies + offset + n + P * width).update(from: v + span.start * width, count: span.length * width)
        }
        self.copies = copies
    }

    /// Keys and values of span s, (P + L, width) each.
    func rows(of s: Int) -> (UnsafePointer<Float>, UnsafePointer<Float>) {
        let span = spans[s]
        if let offset = offsets[s], let copies {
            return (UnsafePointer(copies + offset), UnsafePointer(copies + offset + span.keyCount * width))
        }
        return (k + span.prefixStart * width, v + span.prefixStart * width)
    }

    func deallocate() { copies?.deallocate() }
}
