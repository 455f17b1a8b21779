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
        forEachTask(spans.count * H, scratch: scratchSize, split: work(spans, D: D, heads: H) >= 1 << 18) { task, scratch in
            let s = task / H, h = task % H, span = spans[s]
            let (sk, sv) = keys.rows(of: s)
            fg_attention(out + span.start * QD, Int64(QD), q + span.start * QD, Int64(QD), sk, sv,
                         Int64(KVD), Int64(D), Int64(span.length), Int64(span.prefixLength), Int64(H), Int64(KVH),
                         Int64(D), Int64(h), Int64(h + 1), scratch)
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
        // dK and dV of each span with a prefix, (P + L, KVD) each, zeroed.
        let own = SpanRuns(spans: spans, width: KVD, zeroed: true) { $0.prefixLength > 0 }
        defer { own.deallocate() }
        let scratchSize = spans.map { Int(fg_attention_backward_scratch(Int64($0.length), Int64($0.prefixLength))) }.max() ?? 0
        forEachTask(spans.count * KVH, scratch: scratchSize, split: work(spans, D: D, heads: H) >= 1 << 16) { task, scratch in
            let s = task / KVH, g = task % KVH, span = spans[s]
            let (sk, sv) = keys.rows(of: s)
            let (sdk, sdv) = own.runs(of: s) ?? (dk + span.start * KVD, dv + span.start * KVD)
            fg_attention_backward(dq + span.start * QD, sdk, sdv, dout + span.start * QD,
                                  q + span.start * QD, sk, sv, Int64(span.length), Int64(span.prefixLength),
                                  Int64(H), Int64(KVH), Int64(D), Int64(g), Int64(g + 1), scratch)
        }
        for (s, span) in spans.enumerated() {
            guard let (sdk, sdv) = own.runs(of: s) else { continue }
            let P = span.prefixLength
            (dk + span.start * KVD).update(from: sdk + P * KVD, count: span.length * KVD)
            (dv + span.start * KVD).update(from: sdv + P * KVD, count: span.length * KVD)
            fg_add(dk + span.prefixStart * KVD, sdk, Int64(P * KVD))
            fg_add(dv + span.prefixStart * KVD, sdv, Int64(P * KVD))
        }
    }

    /// Runs `body(task, scratch)` for tasks 0 ..< count: over the thread team when `split`, else on
    /// one thread; each chunk gets its own scratch of `size` floats.
    private static func forEachTask(_ count: Int, scratch size: Int, split: Bool,
                                    _ body: (Int, UnsafeMutablePointer<Float>) -> Void) {
        Parallel.forRange(count, minimumPerChunk: split ? 1 : Int.max) { a, b in
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: size)
            defer { scratch.deallocate() }
            for task in a..<b { body(task, scratch) }
        }
    }

    /// Multiply-adds of the score products, to decide whether splitting over threads pays.
    private static func work(_ spans: [AttentionSpan], D: Int, heads H: Int) -> Int {
        spans.reduce(0) { $0 + $1.length * $1.keyCount } * H * D
    }
}

/// Two runs of (P + L, width) floats for each span `chosen` selects (keys and values, or their
/// gradients), in one allocation.
private struct SpanRuns {
    let width: Int
    let spans: [AttentionSpan]
    /// Offset of each chosen span's first run (its second follows); nil when not chosen.
    let offsets: [Int?]
    let base: UnsafeMutablePointer<Float>?

    init(spans: [AttentionSpan], width: Int, zeroed: Bool, chosen: (AttentionSpan) -> Bool) {
        self.width = width
        self.spans = spans
        var offsets: [Int?] = [], total = 0
        for span in spans {
            offsets.append(chosen(span) ? total : nil)
            if chosen(span) { total += 2 * span.keyCount * width }
        }
        self.offsets = offsets
        guard total > 0 else {
            base = nil
            return
        }
        let base = UnsafeMutablePointer<Float>.allocate(capacity: total)
        if zeroed { base.initialize(repeating: 0, count: total) }
        self.base = base
    }

    /// The two runs of span s, or nil when it was not chosen.
    func runs(of s: Int) -> (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>)? {
        guard let offset = offsets[s], let base else { return nil }
        return (base + offset, base + offset + spans[s].keyCount * width)
    }

    func deallocate() { base?.deallocate() }
}

/// The key and value rows each span attends to, as one contiguous run of (P + L) rows: the packed
/// rows themselves when the prefix lies directly before the span's rows, otherwise a copy.
private struct KeyRows {
    let k: UnsafePointer<Float>, v: UnsafePointer<Float>
    let width: Int
    let spans: [AttentionSpan]
    let copies: SpanRuns

    init(spans: [AttentionSpan], k: UnsafePointer<Float>, v: UnsafePointer<Float>, width: Int) {
        self.k = k
        self.v = v
        self.width = width
        self.spans = spans
        copies = SpanRuns(spans: spans, width: width, zeroed: false) { !$0.keysAreContiguous }
        for (s, span) in spans.enumerated() {
            guard let (keys, values) = copies.runs(of: s) else { continue }
            let P = span.prefixLength
            keys.update(from: k + span.prefixStart * width, count: P * width)
            (keys + P * width).update(from: k + span.start * width, count: span.length * width)
            values.update(from: v + span.prefixStart * width, count: P * width)
            (values + P * width).update(from: v + span.start * width, count: span.length * width)
        }
    }

    /// Keys and values of span s, (P + L, width) each.
    func rows(of s: Int) -> (UnsafePointer<Float>, UnsafePointer<Float>) {
        if let (keys, values) = copies.runs(of: s) { return (UnsafePointer(keys), UnsafePointer(values)) }
        let span = spans[s]
        return (k + span.prefixStart * width, v + span.prefixStart * width)
    }

    func deallocate() { copies.deallocate() }
}
