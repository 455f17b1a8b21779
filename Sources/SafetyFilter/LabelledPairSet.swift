// The labelled conversations judges learn from, built from the pinned data sets and the base
// model's own answers, and split by prompt into train / validation / test.
//
// Split rules (fixed by the seed, never by what a judge does):
// - every pair's group is its normalised prompt, so the same prompt (e.g. an uncensorbench item's
//   censored and uncensored answers, or a many-shot prompt and the model's refusal of it) never
//   stands on both sides;
// - uncensorbench topics: a seeded third of the 15 topics is test-only (whole topics the judges
//   never see); the other items split by prompt like everything else;
// - other groups: 70% train, 15% validation, 15% test by a seeded hash of the group.
// AdvBench and HarmBench never enter: pairs whose prompt copies a benchmark prompt are dropped.

import Foundation
import SafetyData

/// Labelled pairs with their splits.
public struct LabelledPairSet: Sendable, Equatable {
    /// Every pair, in source order.
    public var pairs: [LabelledPair]
    /// The uncensorbench topics held out whole as test data.
    public var testTopics: [String]
    /// Pairs dropped because their prompt copies a benchmark prompt (AdvBench, HarmBench).
    public var droppedAsBenchmark: Int

    /// Creates a set.
    public init(pairs: [LabelledPair], testTopics: [String], droppedAsBenchmark: Int) {
        self.pairs = pairs
        self.testTopics = testTopics
        self.droppedAsBenchmark = droppedAsBenchmark
    }

    /// The pairs of one split.
    public func split(_ split: PairSplit) -> [LabelledPair] { pairs.filter { $0.split == split } }

    /// Counts by (split, source, label) for reports: `test/uncensorbench/unsafe` → n.
    public var counts: [String: Int] {
        pairs.reduce(into: [:]) { $0["\($1.split.rawValue)/\($1.source.rawValue)/\($1.unsafe ? "unsafe" : "safe")", default: 0] += 1 }
    }
}

/// What the labelled set is built from. Model answers come from the caller (generated with the
/// base model and cached), so this type needs no engine.
public struct LabelledPairInputs: Sendable {
    /// PyRIT many-shot examples (harmful verdicts become unsafe pairs).
    public var manyShot: [ManyShotExample] = []
    /// PyRIT scorer-eval rows: harmful compliance (unsafe) and the refusal files' refusals (safe).
    public var scorerEvals: [ScorerEvalRecord] = []
    /// uncensorbench items (censored: safe; uncensored: unsafe).
    public var uncensorBench: [UncensorBenchItem] = []
    /// The base model's answers to harmful prompts; those the refusal judge marks as refusals
    /// become safe pairs, the rest are not used (their labels would be guesses).
    public var modelAnswersToHarmful: [Conversation] = []
    /// The base model's refusals of harmful prompts, already judged (safe).
    public var modelRefusals: [Conversation] = []
    /// The base model's answers to benign generator prompts (safe).
    public var benignExchanges: [Conversation] = []
    /// The base model's answers to benign prompts that sound sensitive (safe).
    public var edgyBenignExchanges: [Conversation] = []
    /// The base model's answers to everyday how-to requests (safe).
    public var howToExchanges: [Conversation] = []
    /// The base model's answers to everyday requests worded with risky-sounding words (safe).
    public var riskyWordingExchanges: [Conversation] = []
    /// Prompts that must never enter (AdvBench goals, HarmBench prompts).
    public var benchmarkPrompts: [String] = []

    /// Creates empty inputs.
    public init() {}
}

extension LabelledPairSet {
    /// Fraction of uncensorbench topics held out whole as test data.
    public static let testTopicFraction = 1.0 / 3.0
    /// Fractions of the other groups in validation and test (the rest is train).
    public static let validationFraction = 0.15, testFraction = 0.15

    /// Builds the set from `inputs`, labelling refusals with `refusalJudge`, split with `seed`.
    public static func build(_ inputs: LabelledPairInputs, refusalJudge: any RefusalJudge = PrefixRefusalJudge.openFedLLM,
                             seed: UInt64) -> LabelledPairSet {
        var raw: [(conversation: Conversation, unsafe: Bool, category: HazardCategory?, source: PairSource, topic: String?)] = []
        for example in inputs.manyShot where example.verdict == .harmful {
            raw.append((Conversation(prompt: example.user, response: example.assistant), true, nil, .manyShot, nil))
        }
        for record in inputs.scorerEvals {
            // Safe pairs are refusals: a row of an objective or harm-scale file scored 0 did not reach
            // its (harmful) objective, which is not the same as refusing it (it may carry partial or
            // off-target harmful content), so only the refusal files' refusals are taken as safe.
            guard let label = record.pairLabel, label == .harmfulCompliance || record.kind == .refusal else { continue }
            let fileCategory = URL(fileURLWithPath: record.location.file).deletingPathExtension().lastPathComponent
            let category = record.harmCategory.flatMap(HazardCategory.from(sourceCategory:))
                ?? HazardCategory.from(sourceCategory: fileCategory)
            let unsafe = label == .harmfulCompliance
            raw.append((Conversation(prompt: record.objective, response: record.response), unsafe,
                        unsafe ? category : nil, .scorerEval, nil))
        }
        for item in inputs.uncensorBench {
            let category = HazardCategory.from(sourceCategory: item.topic)
            raw.append((Conversation(prompt: item.prompt, response: item.censoredResponse), false, nil, .uncensorBench, item.topic))
            raw.append((Conversation(prompt: item.prompt, response: item.uncensoredResponse), true, category, .uncensorBench, item.topic))
        }
        for answer in inputs.modelAnswersToHarmful where refusalJudge.verdict(for: answer.response) == .refused {
            raw.append((answer, false, nil, .modelRefusal, nil))
        }
        for refusal in inputs.modelRefusals where !refusal.response.isEmpty {
            raw.append((refusal, false, nil, .modelRefusal, nil))
        }
        for exchange in inputs.benignExchanges where !exchange.response.isEmpty {
            raw.append((exchange, false, nil, .benignExchange, nil))
        }
        for exchange in inputs.edgyBenignExchanges where !exchange.response.isEmpty {
            raw.append((exchange, false, nil, .edgyBenign, nil))
        }
        for exchange in inputs.howToExchanges where !exchange.response.isEmpty {
            raw.append((exchange, false, nil, .benignHowTo, nil))
        }
        for exchange in inputs.riskyWordingExchanges where !exchange.response.isEmpty {
            raw.append((exchange, false, nil, .riskyWording, nil))
        }

        let benchmark = ContaminationFilter(references: inputs.benchmarkPrompts)
        let topics = Array(Set(inputs.uncensorBench.map(\.topic))).sorted()
        let testTopics = Self.choose(Int((Double(topics.count) * testTopicFraction).rounded()), of: topics, seed: seed)
        var seen = Set<String>()
        var pairs: [LabelledPair] = []
        var dropped = 0
        for item in raw {
            if benchmark.referenceCount > 0, benchmark.match(item.conversation.prompt) != nil {
                dropped += 1
                continue
            }
            // Exact duplicates (same prompt, response and label) count once.
            let normalizedPrompt = TextNormalizer.normalize(item.conversation.prompt)
            let key = normalizedPrompt + "\u{1}" + TextNormalizer.normalize(item.conversation.response) + (item.unsafe ? "1" : "0")
            guard seen.insert(key).inserted else { continue }
            let group = "prompt:" + Self.hex(Self.fnv1a(normalizedPrompt))
            let split: PairSplit
            if let topic = item.topic, testTopics.contains(topic) {
                split = .test
            } else {
                split = Self.split(group: group, seed: seed)
            }
            pairs.append(LabelledPair(conversation: item.conversation, unsafe: item.unsafe, category: item.category,
                                      source: item.source, group: group, split: split))
        }
        // A prompt of a held-out topic that also appears elsewhere must be test there too.
        let testGroups = Set(pairs.filter { $0.split == .test }.map(\.group))
        for i in pairs.indices where testGroups.contains(pairs[i].group) { pairs[i].split = .test }
        return LabelledPairSet(pairs: pairs, testTopics: testTopics.sorted(), droppedAsBenchmark: dropped)
    }

    /// The split of a prompt group: a seeded hash in [0, 1) against the fractions.
    static func split(group: String, seed: UInt64) -> PairSplit {
        var mixer = SplitMix64(seed: fnv1a(group) ^ seed)
        let u = Double(mixer.next() >> 11) / Double(1 << 53)
        if u < testFraction { return .test }
        if u < testFraction + validationFraction { return .validation }
        return .train
    }

    /// `count` items of `items` chosen by a seeded shuffle.
    static func choose(_ count: Int, of items: [String], seed: UInt64) -> Set<String> {
        var generator = SplitMix64(seed: seed ^ 0x7E57_70F1C5)
        var shuffled = items
        generator.shuffle(&shuffled)
        return Set(shuffled.prefix(count))
    }

    static func fnv1a(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return hash
    }

    static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, 16 - digits.count)) + digits
    }
}

// MARK: - Files

extension LabelledPairSet {
    /// Writes the set as JSON Lines (one ``LabelledPair`` a line) plus `<name>.meta.json` beside it.
    public func write(to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var data = Data()
        for pair in pairs {
            data.append(try encoder.encode(pair))
            data.append(0x0A)
        }
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let partial = url.appendingPathExtension("partial")
        try data.write(to: partial, options: .atomic)
        let meta = Meta(testTopics: testTopics, droppedAsBenchmark: droppedAsBenchmark, counts: counts)
        try encoder.encode(meta).write(to: Self.metaURL(url), options: .atomic)
        _ = try? FileManager.default.removeItem(at: url)
        try FileManager.default.moveItem(at: partial, to: url)
    }

    /// Reads a set written by ``write(to:)``; a malformed line is an error naming its line.
    public static func read(from url: URL) throws(FilterError) -> LabelledPairSet {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw .data(path: url.path, reason: "cannot read: \(error.localizedDescription)")
        }
        let decoder = JSONDecoder()
        var pairs: [LabelledPair] = []
        for (index, line) in data.split(separator: 0x0A, omittingEmptySubsequences: false).enumerated() where !line.isEmpty {
            do { pairs.append(try decoder.decode(LabelledPair.self, from: Data(line))) } catch {
                throw .data(path: "\(url.path):\(index + 1)", reason: "not a labelled pair: \(error)")
            }
        }
        var meta = Meta(testTopics: [], droppedAsBenchmark: 0, counts: [:])
        if let metaData = try? Data(contentsOf: metaURL(url)), let decoded = try? decoder.decode(Meta.self, from: metaData) {
            meta = decoded
        }
        return LabelledPairSet(pairs: pairs, testTopics: meta.testTopics, droppedAsBenchmark: meta.droppedAsBenchmark)
    }

    static func metaURL(_ url: URL) -> URL {
        url.deletingPathExtension().appendingPathExtension("meta.json")
    }

    struct Meta: Codable {
        var testTopics: [String]
        var droppedAsBenchmark: Int
        var counts: [String: Int]
    }
}
