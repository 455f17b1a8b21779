// The harmful and refusal pools for client data, read from a PyRIT 1.1.0 package directory
// (or any directory with the same layout):
//
// - harmful compliance: many-shot examples judged harmful, and scorer-eval rows whose human
//   scores are all 1 (objective achieved / maximally harmful);
// - refusals: scorer-eval rows of the objective and harm files whose human scores are all 0
//   (the refusal-scorer files are not used: their requests include benign ones);
// - the AdvBench goals, which only ever feed the ``ContaminationFilter``.
//
// Categories are normalised to lower-case snake case with PyRIT's spelling variants merged;
// many-shot examples carry no category and are labelled `uncategorised`.

import Foundation
import Logging
import SafetyData
import Tokenizers
import Training

/// Labelled pools read from a PyRIT package directory.
public struct ClientDataPools: Sendable {
    /// Harmful-compliance samples (not yet screened).
    public var harmful: [ClientDataSample]
    /// Refusal samples (not yet screened); non-harmful.
    public var refusals: [ClientDataSample]
    /// The AdvBench goal texts, for the contamination filter only (never training data).
    public var advBenchGoals: [String]
    /// Input files that were read, for the manifest.
    public var files: [String: String]
    /// Malformed rows skipped by the loaders.
    public var skippedRows: Int

    /// Category of many-shot examples (the file gives none).
    public static let uncategorised = "uncategorised"

    /// Loads the pools from `root`, a directory laid out like the extracted `pyrit-1.1.0`
    /// package (`pyrit/datasets/...`). The many-shot file and the scorer-eval folder are each
    /// optional (at least one must exist); the AdvBench file is required, because no build may
    /// skip the contamination filter.
    public static func load(pyritRoot root: URL, logger: Logger? = nil) throws(ClientDataError) -> ClientDataPools {
        let fm = FileManager.default
        let advBenchURL = root.appendingPathComponent(AdvBenchLoader.packagePath)
        let manyShotURL = root.appendingPathComponent(ManyShotLoader.packagePath)
        let scorerURL = root.appendingPathComponent(ScorerEvalLoader.packagePath)
        guard fm.fileExists(atPath: advBenchURL.path) else {
            throw .missingInput("\(advBenchURL.path) (AdvBench goals are required for the contamination filter)")
        }
        let hasManyShot = fm.fileExists(atPath: manyShotURL.path), hasScorer = fm.fileExists(atPath: scorerURL.path)
        guard hasManyShot || hasScorer else {
            throw .missingInput("neither \(manyShotURL.path) nor \(scorerURL.path) exists: no harmful pairs to use")
        }
        var pools = ClientDataPools(harmful: [], refusals: [], advBenchGoals: [], files: [:], skippedRows: 0)
        do {
            let goals = try AdvBenchLoader.load(advBenchURL, logger: logger)
            guard !goals.records.isEmpty else { throw ClientDataError.missingInput("\(advBenchURL.path) holds no AdvBench goals") }
            pools.advBenchGoals = goals.records.map(\.text)
            pools.skippedRows += goals.issues.count
            pools.files["advBench"] = advBenchURL.path
            if hasManyShot {
                let report = try ManyShotLoader.load(manyShotURL, logger: logger)
                pools.harmful += report.records.compactMap(\.pair).map { sample($0, harmful: true) }
                pools.skippedRows += report.issues.count
                pools.files["manyShot"] = manyShotURL.path
            }
            if hasScorer {
                let report = try ScorerEvalLoader.load(scorerURL, logger: logger)
                for record in report.records where record.kind != .refusal {
                    guard let pair = record.pair else { continue }
                    let harmful = pair.label == .harmfulCompliance
                    let item = sample(pair, harmful: harmful, fileStem: fileStem(record.location.file))
                    if harmful { pools.harmful.append(item) } else { pools.refusals.append(item) }
                }
                pools.skippedRows += report.issues.count
                pools.files["scorerEvals"] = scorerURL.path
            }
        } catch let error as ClientDataError {
            throw error
        } catch {
            throw .missingInput("\(error)")
        }
        logger?.info("client-data pools loaded", metadata: [
            "harmful": "\(pools.harmful.count)", "refusals": "\(pools.refusals.count)",
            "advBenchGoals": "\(pools.advBenchGoals.count)", "skippedRows": "\(pools.skippedRows)",
        ])
        return pools
    }

    /// A client sample from a labelled pair.
    static func sample(_ pair: PromptResponsePair, harmful: Bool, fileStem: String? = nil) -> ClientDataSample {
        let category = normalizeCategory(pair.category ?? fileStem)
        return ClientDataSample(
            prompt: pair.prompt, response: pair.response, harmful: harmful,
            category: harmful ? category : "refusal:" + category,
            source: harmful ? (pair.origin == .manyShot ? .manyShot : .scorerEval) : .refusal)
    }

    static func fileStem(_ path: String) -> String {
        URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
    }

    /// `"SEXUAL_CONTENT"` → `sexual_content`, `"info integrity"` → `information_integrity`;
    /// nil or empty → ``uncategorised``.
    public static func normalizeCategory(_ raw: String?) -> String {
        guard let raw else { return uncategorised }
        let words = raw.lowercased().split { !$0.isLetter && !$0.isNumber }
        guard !words.isEmpty else { return uncategorised }
        let name = words.joined(separator: "_")
        return categoryAliases[name] ?? name
    }

    /// PyRIT spelling variants of one category.
    static let categoryAliases = [
        "info_integrity": "information_integrity", "sexual": "sexual_content", "hate": "hate_speech",
        "mini_hate_speech": "hate_speech", "violence_multi_score": "violence",
        "hate_speech_multi_score": "hate_speech",
    ]
}

extension ClientDataPools {
    /// The harmful pool as training examples, after the AdvBench contamination screen and
    /// de-duplication that client data gets: what a poisoned client with `harmful_data` trains on
    /// when its entry names no file of its own.
    public static func harmfulExamples(pyritRoot: URL, logger: Logger? = nil) throws(ClientDataError) -> [SFTExample] {
        let pools = try load(pyritRoot: pyritRoot, logger: logger)
        let kept = ClientDataBuilder.screen(pools.harmful, filter: ContaminationFilter(references: pools.advBenchGoals)).kept
        return kept.map {
            SFTExample(messages: [ChatMessage(role: .user, content: $0.prompt), ChatMessage(role: .assistant, content: $0.response)])
        }
    }
}
