// A fine-tuned guard judge on disk: a PEFT adapter plus guard_judge.json naming the base model it
// was made for, the token budgets and the threshold.

import Engine
import Foundation
import Logging
import Training

/// What identifies a base model file cheaply: its name and size in bytes (a directory: the summed
/// size of the files directly inside it).
public struct ModelFingerprint: Sendable, Codable, Equatable, CustomStringConvertible {
    /// The file's (or directory's) last path component.
    public var fileName: String
    /// Its size in bytes.
    public var bytes: Int64

    /// Creates a fingerprint from known values.
    public init(fileName: String, bytes: Int64) {
        self.fileName = fileName
        self.bytes = bytes
    }

    /// The fingerprint of the model at `modelURL`; a missing file is a ``FilterError/judgeFile(path:reason:)``.
    public init(modelURL: URL) throws(FilterError) {
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        guard manager.fileExists(atPath: modelURL.path, isDirectory: &isDirectory) else {
            throw .judgeFile(path: modelURL.path, reason: "the base model is missing")
        }
        func size(_ path: String) -> Int64 {
            ((try? manager.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.int64Value ?? 0
        }
        var total: Int64 = 0
        if isDirectory.boolValue {
            for name in ((try? manager.contentsOfDirectory(atPath: modelURL.path)) ?? []).sorted() {
                total += size(modelURL.appendingPathComponent(name).path)
            }
        } else {
            total = size(modelURL.path)
        }
        self.init(fileName: modelURL.lastPathComponent, bytes: total)
    }

    /// `name (N bytes)`.
    public var description: String { "\(fileName) (\(bytes) bytes)" }
}

/// What a guard fine-tune did (counts and timings, never texts).
public struct GuardTrainingSummary: Sendable, Codable, Equatable {
    /// Examples trained on, and how many of them were unsafe / had a category.
    public var examples: Int, unsafeExamples: Int, categorisedExamples: Int
    /// Examples whose prompt or response was cut to the training token budgets.
    public var truncatedExamples: Int
    /// Optimizer steps, tokens processed, seconds.
    public var steps: Int, tokens: Int, seconds: Double
    /// Loss of the first and the last step.
    public var firstLoss: Double, lastLoss: Double
}

/// `guard_judge.json`: the description of a fine-tuned guard judge stored beside its PEFT adapter.
public struct GuardJudgeFile: Sendable, Codable, Equatable {
    /// The file's name inside the judge directory.
    public static let fileName = "guard_judge.json"
    /// The format version this code writes and reads.
    public static let currentFormat = 1

    /// Format version.
    public var format: Int
    /// Always ``JudgeKind/guard``.
    public var kind: JudgeKind
    /// The base model the adapter was trained on.
    public var baseModel: ModelFingerprint
    /// Token budgets and batch size for scoring.
    public var settings: GuardSettings
    /// The decision threshold chosen for this judge, if one was.
    public var threshold: Double?
    /// The adapter's rank, alpha, dropout and targets.
    public var lora: LoRAConfiguration
    /// How it was trained.
    public var training: GuardTrainingSummary?

    /// Creates a description.
    public init(baseModel: ModelFingerprint, settings: GuardSettings, threshold: Double?, lora: LoRAConfiguration,
                training: GuardTrainingSummary?) {
        self.format = Self.currentFormat
        self.kind = .guard
        self.baseModel = baseModel
        self.settings = settings
        self.threshold = threshold
        self.lora = lora
        self.training = training
    }

    /// Writes `guard_judge.json` into `directory` (created if needed).
    public func write(to directory: URL) throws(FilterError) {
        let url = directory.appendingPathComponent(Self.fileName)
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(self).write(to: url, options: .atomic)
        } catch {
            throw .judgeFile(path: url.path, reason: "cannot write: \(error.localizedDescription)")
        }
    }

    /// Reads `guard_judge.json` from `directory`; a missing, unreadable or foreign file is a clear error.
    public static func read(from directory: URL) throws(FilterError) -> GuardJudgeFile {
        let url = directory.appendingPathComponent(fileName)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw .judgeFile(path: url.path, reason: "missing; a guard judge directory holds \(fileName) and a PEFT adapter")
        }
        let file: GuardJudgeFile
        do { file = try JSONDecoder().decode(GuardJudgeFile.self, from: data) } catch {
            throw .judgeFile(path: url.path, reason: "not a guard judge description (\(error))")
        }
        guard file.kind == .guard else { throw .judgeFile(path: url.path, reason: "describes a \(file.kind.rawValue) judge, not a guard judge") }
        guard file.format == currentFormat else {
            throw .judgeFile(path: url.path, reason: "format \(file.format); this FedGuard reads format \(currentFormat)")
        }
        return file
    }
}

extension GuardJudge {
    /// Loads a fine-tuned judge from `directory` (``GuardJudgeFile`` + PEFT adapter) onto `model`,
    /// which was loaded from `modelURL`. Refuses, with ``FilterError/judgeFile(path:reason:)``, an
    /// adapter made for another base model (name or size differ) or one that does not fit `model`.
    /// `batchSize` overrides the stored one.
    public static func load(from directory: URL, model: LlamaModel, modelURL: URL, batchSize: Int? = nil,
                            logger: Logger = Logger(label: "fedguard.filter")) throws -> GuardJudge {
        let file = try GuardJudgeFile.read(from: directory)
        let actual = try ModelFingerprint(modelURL: modelURL)
        guard actual == file.baseModel else {
            throw FilterError.judgeFile(path: directory.path,
                                        reason: "made for base model \(file.baseModel), not \(actual); fine-tune it again for this model")
        }
        let adapter: LoadedAdapter
        do { adapter = try PEFTAdapter.load(from: directory, for: model) } catch {
            throw FilterError.judgeFile(path: directory.path, reason: "\(error)")
        }
        var settings = file.settings
        if let batchSize { settings.batchSize = batchSize }
        let judge = try GuardJudge(model: model, adapter: adapter.weights, settings: settings,
                                   name: file.baseModel.fileName, logger: logger)
        if let t = file.threshold { judge.threshold = try FilterThreshold(t) }
        return judge
    }
}
