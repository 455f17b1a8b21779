import CKernels

// Shape legend: T = new tokens in the whole batch (rows), C = hidden size, H / KVH = query / key-value
// heads, D = head size, F = MLP width, V = vocabulary size.

/// Which logits a forward pass returns for one sequence.
public enum LogitsSelection: Sendable {
    /// None (e.g. a prompt prefix that only fills the cache).
    case none
    /// The last new position only (generation).
    case last
    /// Every new position (scoring, tests).
    case all
}

/// New tokens of one sequence for a forward pass, continuing the sequence's cache.
public struct ForwardRequest: @unchecked Sendable {
    // @unchecked Sendable: the cache is a reference owned by the caller's sequence.

    /// Token ids to append.
    public var tokens: [Int]
    /// The sequence's cache; the tokens sit at positions `cache.length ..< cache.length + tokens.count`.
    public var cache: KVCache
    /// Which logits to return.
    public var logits: LogitsSelection

    /// Creates a request.
    public init(tokens: [Int], cache: KVCache, logits: LogitsSelection = .last) {
        self.tokens = tokens
        self.cache = cache
        self.logits = logits
    }
}

extension LlamaModel {
    /// Runs the new tokens of every request through the model in one batched pass and appends
    /// their keys and values to the requests' caches.
    ///
    /// Sequences may have different lengths and positions: matrix products see all T rows at once,
    /// attention runs per sequence against its own cache. Returns, for each request, the selected
    /// logits rows flattened, (rows, V). With an `adapter`, every adapted projection adds its LoRA term.
    /// `arithmetic` chooses how products with quantized weights treat activations (see ``Arithmetic``).
    public func forward(_ requests: [ForwardRequest], adapter: LoRAWeights? = nil,
                        arithmetic: Arithmetic = .exact) throws -> [[Float]] {
        let cfg = configuration
        let V = cfg.vocabularySize
        for (i, r) in requests.enumerated() {
            if let bad = r.tokens.first(where: { $0 < 0 || $0 >= V }) {
                throw EngineError.invalidInput("token id \(bad) of sequence \(i) is outside the vocabulary 0..<\(V)")
            }
        }
        let T = requests.reduce(0) { $0 + $1.tokens.count }
        guard T > 0 else { return requests.map { _ in [] } }
        let C = cfg.hiddenSize, H = cfg.headCount, KVH = cfg.kvHeadCount, D = cfg.headDimension
        let F = cfg.intermediateSize, QD = H * D, KVD = cfg.kvDimension
        let eps = cfg.rmsNormEpsilon

        var rowStarts: [Int] = []
        var row = 0
        for r in requests {
            rowStarts.append(row)
            row += r.tokens.count
            r.cache.reserve(r.cache.length + r.tokens.count)
        }

        let x = FloatBuffer(count: T * C), xn = FloatBuffer(count: T * C), tmp = FloatBuffer(count: T * C)
        let q = FloatBuffer(count: T * QD), k = FloatBuffer(count: T * KVD), v = FloatBuffer(count: T * KVD)
        let att = FloatBuffer(count: T * QD)
        let gate = FloatBuffer(count: T * F), up = FloatBuffer(count: T * F)

        // x (T, C) = embedding rows
        var t = 0
        for r in requests {
            for id in r.tokens {
                tokenEmbedding.copyRow(id, to: x.pointer + t * C)
                t += 1
            }
        }

        let maxVisible = requests.map { $0.cache.length + $0.tokens.count }.max() ?? 1
        let rope = RotaryAngles(positions: requests.flatMap { $0.cache.length..<($0.cache.length + $0.tokens.count) },
                                headDimension: D, inverseFrequencies: inverseFrequencies)
        let decoding = requests.allSatisfy { $0.tokens.count == 1 }
        let headsPerTask = decoding ? H / KVH : 1, tasksPerSequence = H / headsPerTask
        let widenedFloats = requests.contains { $0.cache.precision == .float16 } ? 2 * maxVisible * D : 0
        let scratchFloats = requests.map { Int(fg_attention_scratch(Int64($0.tokens.count), Int64($0.cache.length))) }.max() ?? 1
        for (l, layer) in layers.enumerated() {
            fg_rmsnorm(xn.pointer, x.pointer, layer.attentionNorm.pointer, Int64(T), Int64(C), eps)
            // q (T, H·D), k and v (T, KVH·D)
            LinearWeight.forward([(layer.query, q.pointer), (layer.key, k.pointer), (layer.value, v.pointer)],
                                 input: xn.pointer, rows: T, arithmetic: arithmetic)
            layer.addAttentionBiases(q: q.pointer, k: k.pointer, v: v.pointer, rows: T)
            if let lora = adapter {
                lora.apply(layer: l, .query, input: xn.pointer, rows: T, into: q.pointer)
                lora.apply(layer: l, .key, input: xn.pointer, rows: T, into: k.pointer)
                lora.apply(layer: l, .value, input: xn.pointer, rows: T, into: v.pointer)
            }

            // RoPE at each row's position, then append K and V to the sequence's cache.
            rope.rotate(q.pointer, heads: H)
            rope.rotate(k.pointer, heads: KVH)
            for (s, r) in requests.enumerated() {
                r.cache.store(layer: l, keys: k.pointer + rowStarts[s] * KVD, values: v.pointer + rowStarts[s] * KVD,
                              rows: r.tokens.count, at: r.cache.length)
            }

            // Attention, one task per (sequence, head), or per (sequence, kv head) when every sequence
            // decodes one token (the kernel then takes a kv group's heads together); short contexts
            // stay on this thread.
            let attentionWork = requests.count * H * maxVisible * D
            Parallel.forRange(requests.count * tasksPerSequence, minimumPerChunk: attentionWork < 1 << 18 ? Int.max : 1) { a, b in
                let scratch = UnsafeMutablePointer<Float>.allocate(capacity: scratchFloats + widenedFloats)
                defer { scratch.deallocate() }
                for task in a..<b {
                    let s = task / tasksPerSequence, h = task % tasksPerSequence * headsPerTask
                    let r = requests[s]
                    let off = rowStarts[s] * QD
                    // A task's heads share one kv head (a float16 cache widens just that one).
                    let kv = r.cache.floatView(layer: l, head: h / (H / KVH), count: r.cache.length + r.tokens.count,
                                               scratch: scratch + scratchFloats)
                    fg_attention(att.pointer + off, Int64(QD), q.pointer + off, Int64(QD),
                                 kv.keys, kv.values, Int64(D), Int64(kv.headStride),
                                 Int64(r.tokens.count), Int64(r.cache.length), Int64(H), Int64(KVH), Int64(D),
                                 Int64(h), Int64(h + headsPerTask), scratch)
                }
            }
            layer.attentionOutput.forward(att.pointer, rows: T, into: tmp.pointer, arithmetic: arithmetic)  // (T, C)
            adapter?.apply(layer: l, .output, input: att.pointer, rows: T, into: tmp.pointer)
            fg_add(x.pointer, tmp.pointer, Int64(T * C))

            fg_rmsnorm(xn.pointer, x.pointer, layer.mlpNorm.pointer, Int64(T), Int64(C), eps)
            // gate and up (T, F)
            LinearWeight.forward([(layer.gate, gate.pointer), (layer.up, up.pointer)], input: xn.pointer, rows: T,
                                 arithmetic: arithmetic)
            adapter?.apply(layer: l, .gate, input: xn.pointer, rows: T, into: gate.pointer)
            adapter?.apply(layer: l, .up, input: xn.pointer, rows: T, into: up.pointer)
            Parallel.forRange(T, minimumPerChunk: max(1, (1 << 16) / F)) { a, b in  // expf-bound: split rows
                fg_silu_mul(gate.pointer + a * F, gate.pointer + a * F, up.pointer + a * F, Int64((b - a) * F))
            }
            layer.down.forward(gate.pointer, rows: T, into: tmp.pointer, arithmetic: arithmetic)  // (T, C)
            adapter?.apply(layer: l, .down, input: gate.pointer, rows: T, into: tmp.pointer)
            fg_add(x.pointer, tmp.pointer, Int64(T * C))
        }
        for r in requests { r.cache.length += r.tokens.count }

        // Output head only on the rows whose logits were asked for.
        var selected: [Int] = []
        var counts: [Int] = []
        for (s, r) in requests.enumerated() {
            switch r.logits {
            case .none: counts.append(0)
            case .last: selected.append(rowStarts[s] + r.tokens.count - 1); counts.append(1)
            case .all: selected.append(contentsOf: rowStarts[s]..<(rowStarts[s] + r.tokens.count)); counts.append(r.tokens.count)
            }
        }
        guard !selected.isEmpty else { return requests.map { _ in [] } }
        let R = selected.count
        let h = FloatBuffer(count: R * C), logits = FloatBuffer(count: R * V)
        for (i, rr) in selected.enumerated() { (h.pointer + i * C).update(from: x.pointer + rr * C, count: C) }
        fg_rmsnorm(h.pointer, h.pointer, outputNorm.pointer, Int64(R), Int64(C), eps)
        output.forward(h.pointer, rows: R, into: logits.pointer, arithmetic: arithmetic)  // (R, V)

        var result: [[Float]] = []
        var offset = 0
        for n in counts {
            result.append(Array(UnsafeBufferPointer(start: logits.pointer + offset * V, count: n * V)))
            offset += n
        }
        return result
    }
}
