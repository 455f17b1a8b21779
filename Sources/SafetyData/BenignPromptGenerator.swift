// Benign instruction prompts for training: no licensed benign instruction-and-response set
// ships in the registries, so prompts come from task templates × topics (responses are
// produced later by the base model). Output is deterministic for a seed, has no duplicates
// after ``TextNormalizer`` normalisation, and never contains an over-refusal probe
// (``OverRefusalProbes``) or any of its trigger words, so that held-out set stays held out.

/// The kind of task a benign prompt asks for.
public enum BenignTask: String, Hashable, Sendable, CaseIterable {
    /// Creative writing.
    case writing
    /// Explaining a concept.
    case explanation
    /// Writing or explaining code.
    case coding
    /// Arithmetic, algebra and maths concepts.
    case maths
    /// Everyday advice.
    case advice
    /// Summarising a well-known subject.
    case summarising
}

/// A benign prompt that may be used for training.
public struct BenignPrompt: Hashable, Sendable {
    /// The prompt.
    public let text: String
    /// The kind of task.
    public let task: BenignTask
}

/// A SplitMix64 generator: small, fast, and identical on every platform.
/// reference: Steele, Lea & Flood 2014, "Fast splittable pseudorandom number generators".
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator whose sequence is fixed by `seed`.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A value in `0 ..< bound` by Lemire's multiply-high mapping, so results do not depend
    /// on the standard library's sampling algorithm. Returns 0 when `bound <= 1`.
    public mutating func below(_ bound: Int) -> Int {
        guard bound > 1 else { return 0 }
        return Int(next().multipliedFullWidth(by: UInt64(bound)).high)
    }

    /// A value in `range`.
    public mutating func value(in range: ClosedRange<Int>) -> Int {
        range.lowerBound + below(range.upperBound - range.lowerBound + 1)
    }

    /// Fisher-Yates shuffle with this generator.
    public mutating func shuffle<T>(_ items: inout [T]) {
        guard items.count > 1 else { return }
        for i in stride(from: items.count - 1, to: 0, by: -1) {
            items.swapAt(i, below(i + 1))
        }
    }
}

/// Builds benign training prompts.
public struct BenignPromptGenerator: Sendable {
    /// The seed fixing the output.
    public let seed: UInt64
    /// Numeric maths prompts drawn per maths template.
    public let mathsDrawsPerTemplate: Int

    /// A generator for `seed`.
    public init(seed: UInt64, mathsDrawsPerTemplate: Int = 80) {
        self.seed = seed
        self.mathsDrawsPerTemplate = max(mathsDrawsPerTemplate, 0)
    }

    /// Up to `count` distinct prompts, tasks interleaved round-robin (each task's prompts in
    /// seeded random order), so any prefix is balanced across tasks until a task runs out.
    public func generate(count: Int) -> [BenignPrompt] {
        var pools = BenignTask.allCases.map { pool(for: $0) }
        var result: [BenignPrompt] = []
        var position = 0
        while result.count < count, pools.contains(where: { position < $0.count }) {
            for pool in pools where position < pool.count && result.count < count {
                result.append(pool[position])
            }
            position += 1
        }
        pools.removeAll()
        return result
    }

    /// Every prompt this generator can produce, in ``generate(count:)`` order.
    public func all() -> [BenignPrompt] { generate(count: .max) }

    /// The shuffled, filtered prompts of one task. Pools are disjoint across tasks.
    func pool(for task: BenignTask) -> [BenignPrompt] {
        // Each task gets its own stream so adding templates to one task leaves the others alone.
        var rng = SplitMix64(seed: seed ^ (0xA5A5_0000_0000_0000 &+ UInt64(BenignTask.allCases.firstIndex(of: task) ?? 0)))
        var texts = candidates(for: task, rng: &rng)
        rng.shuffle(&texts)
        var seen = Set<String>()
        var result: [BenignPrompt] = []
        for text in texts {
            let normalized = TextNormalizer.normalize(text)
            guard Self.staysClearOfProbes(text, normalized: normalized), seen.insert(normalized).inserted else { continue }
            result.append(BenignPrompt(text: text, task: task))
        }
        return result
    }

    private func candidates(for task: BenignTask, rng: inout SplitMix64) -> [String] {
        typealias T = BenignTopics
        switch task {
        case .writing:
            return T.writingTemplates.flatMap { template in T.writingSubjects.map(template) }
        case .explanation:
            return T.explanationTemplates.flatMap { template in T.explanationSubjects.map(template) }
        case .coding:
            var texts: [String] = []
            for language in T.codingLanguages {
                for template in T.codingTemplates { texts += T.codingTasks.map { template(language, $0) } }
                for template in T.codingConceptTemplates { texts += T.codingConcepts.map { template(language, $0) } }
            }
            return texts
        case .maths:
            var texts = T.mathsConceptTemplates.flatMap { template in T.mathsConceptTopics.map(template) }
            for template in Self.numericMaths {
                for _ in 0 ..< mathsDrawsPerTemplate { texts.append(template(&rng)) }
            }
            return texts
        case .advice:
            return T.adviceTemplates.flatMap { template in T.adviceSituations.map(template) }
        case .summarising:
            return T.summaryTemplates.flatMap { template in T.summarySubjects.map(template) }
        }
    }

    /// Numeric maths templates; each draws its numbers from the generator.
    static let numericMaths: [@Sendable (inout SplitMix64) -> String] = [
        { "What is \($0.value(in: 12 ... 99)) multiplied by \($0.value(in: 12 ... 99))?" },
        { rng in
            let x = rng.value(in: -9 ... 12), a = rng.value(in: 2 ... 9), b = rng.value(in: 1 ... 30)
            return "Solve for x: \(a)x + \(b) = \(a * x + b)."
        },
        { "What is \([5, 10, 15, 20, 25, 30, 40, 75][$0.below(8)])% of \($0.value(in: 2 ... 80) * 10)?" },
        { "Find the area of a rectangle that is \($0.value(in: 3 ... 40)) cm long and \($0.value(in: 2 ... 30)) cm wide." },
        { rng in
            let hours = rng.value(in: 2 ... 6), speed = rng.value(in: 40 ... 120)
            return "A train travels \(hours * speed) km in \(hours) hours. What is its average speed?"
        },
        { rng in
            let k = rng.value(in: 2 ... 9)
            return "Simplify the fraction \(k * rng.value(in: 1 ... 12))/\(k * rng.value(in: 13 ... 25))."
        },
        { "What is the greatest common divisor of \($0.value(in: 12 ... 240)) and \($0.value(in: 12 ... 240))?" },
        { "Convert the decimal number \($0.value(in: 5 ... 1000)) to binary." },
        { "Is \($0.value(in: 50 ... 999)) a prime number? Explain how you checked." },
        { "What is the sum of the whole numbers from 1 to \($0.value(in: 10 ... 500))?" },
    ]

    /// Whether `text` (and its ``TextNormalizer`` form, `normalized`) contains no probe trigger word
    /// and is not a probe: what every training prompt must satisfy so the probes stay held out.
    static func staysClearOfProbes(_ text: String, normalized: String) -> Bool {
        !containsTrigger(normalized) && probeFilter.match(text) == nil
    }

    /// Filter against every over-refusal probe (exact, near-duplicate or contained).
    static let probeFilter = ContaminationFilter(references: OverRefusalProbes.all.map(\.text))

    /// Whether normalised text contains a trigger word or a simple inflection of one
    /// ("kill", "kills", "killed", "killing", "killer").
    static func containsTrigger(_ normalized: String) -> Bool {
        normalized.split(separator: " ").contains { token in triggerForms.contains(String(token)) }
    }

    static let triggerForms: Set<String> = {
        var forms = Set<String>()
        for word in OverRefusalProbes.triggerWords {
            let last = word.last.map(String.init) ?? ""
            for suffix in ["", "s", "es", "ed", "d", "ing", "er", "ers", "r", "rs"] { forms.insert(word + suffix) }
            forms.insert(word + last + "ed")  // doubled consonant: "trapped"
            forms.insert(word + last + "ing")
            if word.hasSuffix("e") { forms.insert(String(word.dropLast()) + "ing") }  // "strike" → "striking"
        }
        return forms
    }()
}
