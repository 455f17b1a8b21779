import Foundation
import SafetyFilter
import Testing

/// A stand-in encoder: hashed bag of words, L2-normalised (deterministic, no model needed).
final class BagOfWordsEncoder: TextEncoder {
    let dimension: Int
    let identity: String
    init(dimension: Int = 32, identity: String = "bag-of-words-32") {
        self.dimension = dimension
        self.identity = identity
    }
    func encode(_ texts: [String]) throws -> (vectors: [[Float]], truncated: [Bool]) {
        let vectors = texts.map { text -> [Float] in
            var v = [Float](repeating: 0, count: dimension)
            for word in text.lowercased().split(whereSeparator: { !$0.isLetter }) {
                var h: UInt64 = 1469598103934665603
                for b in word.utf8 { h = (h ^ UInt64(b)) &* 1099511628211 }
                v[Int(h % UInt64(dimension))] += 1
            }
            let norm = max(v.map { $0 * $0 }.reduce(0, +).squareRoot(), 1e-6)
            return v.map { $0 / norm }
        }
        return (vectors, texts.map { $0.count > 200 })
    }
}

struct EmbeddingJudgeTests {
    /// Separable toy pairs: unsafe responses comply ("sure here are the steps"), safe ones refuse or
    /// answer benign questions; categories follow the prompt's topic word.
    static func toyPairs(count: Int, offset: Int = 0) -> [LabelledPair] {
        let topics: [(String, HazardCategory)] = [("weapon", .indiscriminateWeapons), ("hack", .nonViolentCrimes), ("hurt", .suicideAndSelfHarm)]
        return (0..<count).map { i in
            let (topic, category) = topics[(i / 3 + offset) % topics.count]
            switch i % 3 {
            case 0: return LabelledPair(conversation: Conversation(prompt: "how to \(topic) thing \(i)", response: "sure here are the steps first \(topic) then"),
                                        unsafe: true, category: category, source: .manyShot, group: "\(i)")
            case 1: return LabelledPair(conversation: Conversation(prompt: "how to \(topic) thing \(i)", response: "sorry I cannot help with that request"),
                                        unsafe: false, category: nil, source: .modelRefusal, group: "\(i)")
            default: return LabelledPair(conversation: Conversation(prompt: "recipe for cake \(i)", response: "mix flour sugar eggs and bake"),
                                         unsafe: false, category: nil, source: .benignExchange, group: "\(i)")
            }
        }
    }

    static func data(_ judgeEncoder: BagOfWordsEncoder, _ pairs: [LabelledPair]) throws -> HeadTrainingData {
        let encoded = try judgeEncoder.encode(pairs.map(\.conversation.prompt) + pairs.map(\.conversation.response))
        let n = pairs.count
        return HeadTrainingData(features: EmbeddingHead.features(prompts: Array(encoded.vectors[0..<n]), responses: Array(encoded.vectors[n...]),
                                                                 responseTexts: pairs.map(\.conversation.response)),
                                unsafe: pairs.map(\.unsafe), categories: pairs.map(\.category))
    }

    /// A quickly trained toy judge on the bag-of-words encoder.
    static func toyJudge(pairs: Int = 30, epochs: Int = 10, hidden: Int = 8, threshold: Double = 0.5) throws -> EmbeddingJudge {
        let encoder = BagOfWordsEncoder()
        var parameters = HeadTrainingParameters()
        parameters.epochs = epochs
        parameters.hiddenUnits = hidden
        let head = try EmbeddingHead.train(embeddingWidth: encoder.dimension, data: try data(encoder, toyPairs(count: pairs)),
                                           validation: nil, parameters: parameters).head
        return try EmbeddingJudge(encoder: encoder, head: head, calibratedThreshold: threshold)
    }

    @Test func headLearnsASeparableSetAndItsCategories() throws {
        let encoder = BagOfWordsEncoder()
        var parameters = HeadTrainingParameters()
        parameters.epochs = 250
        parameters.hiddenUnits = 16
        parameters.seed = 5
        let train = Self.toyPairs(count: 60), validation = Self.toyPairs(count: 21, offset: 1)
        let (head, summary) = try EmbeddingHead.train(embeddingWidth: encoder.dimension, data: try Self.data(encoder, train),
                                                      validation: try Self.data(encoder, validation), parameters: parameters)
        #expect(summary.validationLoss.map { $0 < 0.1 } == true, "\(summary)")
        let judge = try EmbeddingJudge(encoder: encoder, head: head, calibratedThreshold: 0.5)
        let test = Self.toyPairs(count: 30, offset: 2)
        let scores = try judge.score(test.map(\.conversation))
        let metrics = FilterMetrics(pairs: test, scores: scores, threshold: try FilterThreshold(0.5))
        #expect(metrics.overall.falsePositives == 0 && metrics.overall.falseNegatives == 0)
        #expect(metrics.rocAUC == 1)
        #expect(metrics.categoryHits == metrics.categoryTrials && metrics.categoryTrials == 10)
    }

    @Test func trainingIsDeterministicForASeed() throws {
        let encoder = BagOfWordsEncoder()
        var parameters = HeadTrainingParameters()
        parameters.epochs = 20
        parameters.hiddenUnits = 8
        let data = try Self.data(encoder, Self.toyPairs(count: 30))
        let a = try EmbeddingHead.train(embeddingWidth: 32, data: data, validation: nil, parameters: parameters).head
        let b = try EmbeddingHead.train(embeddingWidth: 32, data: data, validation: nil, parameters: parameters).head
        parameters.seed = 1
        let c = try EmbeddingHead.train(embeddingWidth: 32, data: data, validation: nil, parameters: parameters).head
        #expect(a == b)
        #expect(a != c)
    }

    @Test func rejectsDegenerateTrainingData() {
        let encoder = BagOfWordsEncoder()
        let safeOnly = Self.toyPairs(count: 9).filter { !$0.unsafe }
        #expect(throws: FilterError.self) {
            try EmbeddingHead.train(embeddingWidth: 32, data: try Self.data(encoder, safeOnly), validation: nil,
                                    parameters: HeadTrainingParameters())
        }
        var bad = try? Self.data(encoder, Self.toyPairs(count: 6))
        bad?.features[3] = .nan
        #expect(throws: FilterError.self) {
            try EmbeddingHead.train(embeddingWidth: 32, data: bad!, validation: nil, parameters: HeadTrainingParameters())
        }
    }

    /// An ensemble averages its heads' P(unsafe), saves every head and loads them back; a judge
    /// saved before ensembles (one head, no `heads` entry) still loads.
    @Test func anEnsembleAveragesItsHeadsAndRoundTrips() throws {
        let encoder = BagOfWordsEncoder()
        let data = try Self.data(encoder, Self.toyPairs(count: 40))
        var parameters = HeadTrainingParameters()
        parameters.epochs = 40
        parameters.hiddenUnits = 8
        let heads = try (0..<3).map { m -> EmbeddingHead in
            parameters.seed = UInt64(m)
            return try EmbeddingHead.train(embeddingWidth: encoder.dimension, data: data, validation: nil, parameters: parameters).head
        }
        let judge = try EmbeddingJudge(encoder: encoder, heads: heads, calibratedThreshold: 0.5)
        let conversations = Self.toyPairs(count: 6).map(\.conversation)
        let features = try judge.features(conversations).features
        let members = heads.map { $0.predict(features: features).map(\.unsafe) }
        for (i, score) in try judge.score(conversations).enumerated() {
            #expect(abs(score.unsafeProbability - members.map { $0[i] }.reduce(0, +) / 3) < 1e-12)
        }
        #expect(judge.summary.contains("3 heads"))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ensemble-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try judge.save(to: directory)
        let loaded = try EmbeddingJudge.load(from: directory, encoder: encoder)
        #expect(loaded.heads == heads)
        #expect(try loaded.score(conversations) == judge.score(conversations))
        // One head: unprefixed tensors; a record without `heads` (an earlier FedGuard's) reads as one.
        try EmbeddingJudge(encoder: encoder, head: heads[0], calibratedThreshold: 0.5).save(to: directory)
        var record = try JudgeRecord.read(from: directory, expecting: .embedding)
        record.details["heads"] = nil
        try record.write(to: directory)
        #expect(try EmbeddingJudge.load(from: directory, encoder: encoder).heads == [heads[0]])
        for bad in ["0", "65", "x"] {
            record.details["heads"] = bad
            try record.write(to: directory)
            #expect(throws: FilterError.self) { try EmbeddingJudge.load(from: directory, encoder: encoder) }
        }
        #expect(throws: FilterError.self) { try EmbeddingJudge(encoder: encoder, heads: [], calibratedThreshold: 0.5) }
    }

    @Test func savesLoadsAndRefusesAnotherEncoder() throws {
        let judge = try Self.toyJudge(threshold: 0.4)
        let encoder = judge.encoder, heads = judge.heads
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("judge-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try judge.save(to: directory)
        let loaded = try EmbeddingJudge.load(from: directory, encoder: encoder)
        #expect(loaded.heads == heads && loaded.calibratedThreshold == 0.4)
        let conversations = Self.toyPairs(count: 6).map(\.conversation)
        #expect(try loaded.score(conversations) == judge.score(conversations))
        #expect(throws: FilterError.self) {
            try EmbeddingJudge.load(from: directory, encoder: BagOfWordsEncoder(identity: "another-encoder"))
        }
        #expect(throws: FilterError.self) {
            try EmbeddingJudge.load(from: directory.appendingPathComponent("missing"), encoder: encoder)
        }
        // A truncated weights file is a clear error, not a crash.
        let weights = directory.appendingPathComponent(EmbeddingJudge.headFileName)
        let bytes = try Data(contentsOf: weights)
        try bytes.prefix(bytes.count / 2).write(to: weights)
        #expect(throws: FilterError.self) { try EmbeddingJudge.load(from: directory, encoder: encoder) }
    }

    @Test func scoresAreIndependentOfTheBatch() throws {
        let judge = try Self.toyJudge()
        let conversations = Self.toyPairs(count: 12).map(\.conversation)
        let together = try judge.score(conversations)
        let alone = try conversations.flatMap { try judge.score([$0]) }
        #expect(together == alone)
        #expect(try judge.score([]).isEmpty)
    }
}

/// Records every text it encodes, to prove what training reads.
final class SpyEncoder: TextEncoder {
    let inner = BagOfWordsEncoder()
    var seen: [String] = []
    var dimension: Int { inner.dimension }
    var identity: String { inner.identity }
    func encode(_ texts: [String]) throws -> (vectors: [[Float]], truncated: [Bool]) {
        seen += texts
        return try inner.encode(texts)
    }
}

struct EmbeddingTrainingTests {
    @Test func trainsOnTrainChoosesThresholdOnValidationAndNeverReadsTest() throws {
        var pairs = EmbeddingJudgeTests.toyPairs(count: 90)
        for i in pairs.indices { pairs[i].split = i < 60 ? .train : i < 75 ? .validation : .test }
        for i in 75..<90 { pairs[i].conversation.prompt += " heldoutmarker" }
        let set = LabelledPairSet(pairs: pairs, testTopics: [], droppedAsBenchmark: 0)
        let spy = SpyEncoder()
        var parameters = HeadTrainingParameters()
        parameters.epochs = 120
        parameters.hiddenUnits = 16
        let result = try EmbeddingTraining.train(pairs: set, encoder: spy, parameters: parameters,
                                                 logger: .init(label: "test"))
        #expect(!spy.seen.contains { $0.contains("heldoutmarker") })
        #expect(result.validation.overall.recall?.proportion == 1)
        #expect((0...1).contains(result.judge.calibratedThreshold))
        #expect(result.details["threshold_rule"] == EmbeddingTraining.crossFittedThresholdRule)
        #expect(result.details["folds"] == "5" && result.details["out_of_sample_pairs"] == "75")
        // Five heads by default, one per seed, each with its own cross-fitted epoch count.
        #expect(result.judge.heads.count == HeadTrainingParameters().ensemble && HeadTrainingParameters().ensemble == 5)
        #expect(Set(result.judge.heads.map(\.w1)).count == 5)
        #expect(result.details["epochs"]?.split(separator: ",").count == 5)
        // Without cross-fitting the epoch and threshold come from validation alone.
        parameters.folds = 1
        let plain = try EmbeddingTraining.train(pairs: set, encoder: BagOfWordsEncoder(), parameters: parameters,
                                                logger: .init(label: "test"))
        #expect(plain.details["threshold_rule"] == FilterMetrics.thresholdRule && plain.details["folds"] == "0")
    }
}

struct HeadCrossFittingTests {
    static func data(_ pairs: [LabelledPair]) throws -> HeadTrainingData {
        try EmbeddingJudgeTests.data(BagOfWordsEncoder(), pairs)
    }

    @Test func everyPairIsScoredByAHeadThatNeverSawIt() throws {
        // Separable pairs: out-of-fold scores still rank them perfectly, deterministically.
        let pairs = EmbeddingJudgeTests.toyPairs(count: 90)
        var parameters = HeadTrainingParameters()
        parameters.epochs = 60
        parameters.hiddenUnits = 8
        let fit = try EmbeddingHead.crossFit(embeddingWidth: 32, data: try Self.data(pairs), groups: pairs.map(\.group),
                                             folds: 5, parameters: parameters)
        #expect(fit.scores.count == 90 && fit.folds == 5)
        #expect((1...60).contains(fit.epochs))
        #expect(FilterMetrics.rocAUC(labels: pairs.map(\.unsafe), scores: fit.scores) == 1)
        let again = try EmbeddingHead.crossFit(embeddingWidth: 32, data: try Self.data(pairs), groups: pairs.map(\.group),
                                               folds: 5, parameters: parameters)
        #expect(again.scores == fit.scores && again.epochs == fit.epochs)
    }

    @Test func outOfFoldScoresComeFromHeadsThatDidNotSeeTheGroup() throws {
        // Labels set by the prompt group alone (a token per group, independent of the response): a
        // head that saw a group memorises its token; out of fold the token was never seen, so the
        // scores carry no signal. Were a group split across folds, they would.
        let base = EmbeddingJudgeTests.toyPairs(count: 60)
        let tokens = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"]
        var pairs: [LabelledPair] = []
        for (i, pair) in base.enumerated() {
            var copy = pair
            copy.group = "g\(i % 10)"
            copy.conversation.prompt = "\(tokens[i % 10]) \(tokens[i % 10]) \(tokens[i % 10])"
            copy.unsafe = (i % 10) < 5
            copy.category = copy.unsafe ? .nonViolentCrimes : nil
            pairs.append(copy)
        }
        var parameters = HeadTrainingParameters()
        parameters.epochs = 200
        parameters.hiddenUnits = 16
        parameters.inputDropout = 0
        let fit = try EmbeddingHead.crossFit(embeddingWidth: 32, data: try Self.data(pairs), groups: pairs.map(\.group),
                                             folds: 5, parameters: parameters)
        // In sample, the group token gives the label away; out of fold, the token was never seen.
        let inSample = try EmbeddingHead.train(embeddingWidth: 32, data: try Self.data(pairs), validation: nil, parameters: parameters).head
        let memorised = FilterMetrics.rocAUC(labels: pairs.map(\.unsafe),
                                             scores: inSample.predict(features: try Self.data(pairs).features).map(\.unsafe)) ?? 0
        let outOfFold = FilterMetrics.rocAUC(labels: pairs.map(\.unsafe), scores: fit.scores) ?? 1
        #expect(memorised > 0.95 && outOfFold < 0.8, "in sample \(memorised), out of fold \(outOfFold)")
    }

    @Test func rejectsTooFewFoldsAndMismatchedGroups() throws {
        let pairs = EmbeddingJudgeTests.toyPairs(count: 30)
        let data = try Self.data(pairs)
        #expect(throws: FilterError.self) {
            try EmbeddingHead.crossFit(embeddingWidth: 32, data: data, groups: pairs.map(\.group), folds: 1, parameters: .init())
        }
        #expect(throws: FilterError.self) {
            try EmbeddingHead.crossFit(embeddingWidth: 32, data: data, groups: ["a"], folds: 5, parameters: .init())
        }
    }
}

struct JudgeBadInputTests {
    @Test func emptyAndOddTextsAreScoredNotCrashedOn() throws {
        let judge = try EmbeddingJudgeTests.toyJudge(pairs: 12, epochs: 5, hidden: 4)
        let odd = [Conversation(prompt: "", response: ""), Conversation(prompt: "\u{0}\u{7}", response: "🙂 中文 \u{202E}"),
                   Conversation(prompt: "q", response: String(repeating: "long ", count: 100))]
        let scores = try judge.score(odd)
        #expect(scores.count == 3 && scores.allSatisfy { (0...1).contains($0.unsafeProbability) })
        #expect(scores[2].truncated && !scores[0].truncated)
    }

    @Test func aJudgeRecordWithAThresholdOutsideTheUnitIntervalIsRefused() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("record-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try JudgeRecord(kind: .embedding, base: "x", threshold: 1.5, details: [:]).write(to: directory)
        #expect(throws: FilterError.self) { try JudgeRecord.read(from: directory, expecting: .embedding) }
        try JudgeRecord(kind: .guard, base: "x", threshold: 0.5, details: [:]).write(to: directory)
        #expect(throws: FilterError.self) { try JudgeRecord.read(from: directory, expecting: .embedding) }
        try Data("{not json".utf8).write(to: directory.appendingPathComponent(JudgeRecord.fileName))
        #expect(throws: FilterError.self) { try JudgeRecord.read(from: directory, expecting: .embedding) }
    }

    @Test func anEncoderOfAnotherWidthIsRefused() throws {
        let head = EmbeddingHead(embeddingWidth: 16, hiddenUnits: 4, seed: 0)
        #expect(throws: FilterError.self) { try EmbeddingJudge(encoder: BagOfWordsEncoder(), head: head, calibratedThreshold: 0.5) }
    }
}

/// A judge with fixed scores.
final class FixedJudge: SafetyJudge {
    let values: [Double], category: HazardCategory, count: Int?
    init(_ values: [Double], category: HazardCategory, count: Int? = nil) {
        self.values = values
        self.category = category
        self.count = count
    }
    var kind: JudgeKind { .embedding }
    var summary: String { "fixed" }
    func score(_ conversations: [Conversation]) throws -> [JudgeScore] {
        (0..<(count ?? conversations.count)).map { JudgeScore(unsafeProbability: values[$0 % values.count], category: category, truncated: $0 == 1) }
    }
}

struct CombinedJudgeTests {
    @Test func meansTheProbabilitiesAndTakesTheFirstJudgesCategory() throws {
        let judge = try CombinedJudge([FixedJudge([0.9, 0.2], category: .hate), FixedJudge([0.5, 0.0], category: .privacy)])
        let scores = try judge.score([Conversation(prompt: "a", response: "b"), Conversation(prompt: "c", response: "d")])
        #expect(scores.map(\.unsafeProbability) == [0.7, 0.1])
        #expect(scores.allSatisfy { $0.category == .hate } && scores[1].truncated && !scores[0].truncated)
        #expect(judge.kind == .both)
    }

    @Test func refusesNoJudgesAndAWrongScoreCount() throws {
        #expect(throws: FilterError.self) { try CombinedJudge([]) }
        let judge = try CombinedJudge([FixedJudge([0.9], category: .hate), FixedJudge([0.5], category: .hate, count: 1)])
        #expect(throws: FilterError.self) { try judge.score([Conversation(prompt: "a", response: "b"), Conversation(prompt: "c", response: "d")]) }
    }
}

struct ResponseSignalsTests {
    @Test func aDecliningOpeningIsSeenWhateverTheTopic() {
        #expect(ResponseSignals.values(for: "I cannot provide burglary techniques. Breaking in is a felony.") == [1, 1])
        #expect(ResponseSignals.values(for: "  I\u{2019}m not able to help with that.") == [1, 1])
        #expect(ResponseSignals.values(for: "Sorry, that is not something I will write.") == [1, 1])
        // Declining in the second sentence: only the opening feature.
        #expect(ResponseSignals.values(for: "That is a serious crime. I won't help with it.") == [0, 1])
        // Compliance, sympathy, and declining words inside other words or late in the text.
        #expect(ResponseSignals.values(for: "Sure, here are the steps: first, gather the tools.") == [0, 0])
        #expect(ResponseSignals.values(for: "I'm sorry to hear that. Here is what you can do: rest.") == [0, 0])
        #expect(ResponseSignals.values(for: "Unsorry-looking dice: roll them.") == [0, 0])
        #expect(ResponseSignals.values(for: String(repeating: "Step by step. ", count: 30) + "I can't say more.") == [0, 0])
        #expect(ResponseSignals.values(for: "").count == ResponseSignals.count)
    }

    @Test func theHeadSeesTheSignalsAfterTheEmbeddings() {
        let features = EmbeddingHead.features(prompts: [[1, 2]], responses: [[3, 4]], responseTexts: ["I won't do that."])
        #expect(features == [1, 2, 3, 4, 3, 8, 2, 2, 1, 1])
        #expect(EmbeddingHead.featureWidth(embeddingWidth: 2) == features.count)
    }

    @Test func aJudgeSavedWithAnotherFeatureLayoutIsRefused() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fedguard-layout-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let judge = try EmbeddingJudgeTests.toyJudge()
        try judge.save(to: directory)
        #expect(try EmbeddingJudge.load(from: directory, encoder: BagOfWordsEncoder()).heads == judge.heads)
        var record = try JudgeRecord.read(from: directory, expecting: .embedding)
        record.details["features"] = nil
        try record.write(to: directory)
        #expect { try EmbeddingJudge.load(from: directory, encoder: BagOfWordsEncoder()) } throws: { error in
            "\(error)".contains("train it again")
        }
    }
}
