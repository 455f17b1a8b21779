import Engine
import Foundation
import SafetyData
import Training

/// Accuracy on a multiple-choice task scored by likelihood (the downstream check beside the
/// helpfulness loss): each answer is scored by the log-probability of its continuation after the
/// question, raw text without the chat template, as OLMo's and lm-evaluation-harness's
/// ranked-classification tasks do.
public struct DownstreamResult: Codable, Sendable {
    /// The task (`arc_easy`).
    public let task: String
    /// Questions scored.
    public let items: Int
    /// Questions whose highest summed log-probability is the right answer.
    public let accuracy: RateEstimate
    /// The same with each answer's log-probability divided by its length in UTF-8 bytes
    /// (lm-evaluation-harness's `acc_norm`), which does not favour short answers.
    public let accuracyPerByte: RateEstimate
    /// Per question, `1` when the per-byte choice is right: for paired tests between models.
    public var outcomes: String?
    /// Wall time.
    public var seconds: Double

    enum CodingKeys: String, CodingKey {
        case task, items, accuracy, accuracyPerByte = "accuracy_per_byte", outcomes, seconds
    }
}

/// Scores multiple-choice questions with the model (and adapter).
public enum MultipleChoiceScorer {
    /// Scores `items`; `batch` answer sequences go through one forward pass. Throws
    /// ``EvaluationError`` when the model has no tokenizer or there is nothing to score.
    public static func score(task: String, items: [MultipleChoiceItem], model: LlamaModel, adapter: LoRAWeights?, batch: Int = 32,
                             progress: (Int, Int) -> Void = { _, _ in }) throws -> DownstreamResult {
        guard let tokenizer = model.tokenizer else { throw EvaluationError.noTokenizer }
        guard !items.isEmpty else { throw EvaluationError.data("\(task): no questions to score") }
        let started = Date()
        // One sequence per (question, answer): the context's tokens, then the answer's as targets.
        var sequences: [TrainingSequence] = []
        var owners: [(item: Int, choice: Int)] = []
        for (i, item) in items.enumerated() {
            let context = tokenizer.encode(item.context)
            for (c, continuation) in item.continuations.enumerated() {
                let answer = tokenizer.tokenizer.encode(continuation, parseSpecialTokens: false)
                guard !context.isEmpty, !answer.isEmpty else {
                    throw EvaluationError.data("\(item.location): question \(item.id) has an empty context or answer \(c)")
                }
                do {
                    sequences.append(try TrainingSequence(tokens: context + answer,
                                                          targetMask: Array(repeating: false, count: context.count)
                                                            + Array(repeating: true, count: answer.count)))
                } catch {
                    throw EvaluationError.data("\(item.location): \(error)")
                }
                owners.append((i, c))
            }
        }
        var logProbabilities = [Double](repeating: 0, count: sequences.count)
        for start in stride(from: 0, to: sequences.count, by: max(batch, 1)) {
            let end = min(start + max(batch, 1), sequences.count)
            do {
                let sums = try sequenceLogProbabilities(model: model, adapter: adapter, sequences: Array(sequences[start..<end]))
                for (offset, value) in sums.enumerated() { logProbabilities[start + offset] = value }
            } catch {
                throw EvaluationError.data("\(task): \(error)")
            }
            progress(owners[end - 1].item + 1, items.count)
        }
        var right = 0, rightPerByte = 0
        var outcomes = ""
        var index = 0
        for item in items {
            let scores = item.continuations.indices.map { logProbabilities[index + $0] }
            let perByte = item.continuations.enumerated().map { c, text in scores[c] / Double(max(text.utf8.count, 1)) }
            index += item.continuations.count
            let best = Self.argmax(scores), bestPerByte = Self.argmax(perByte)
            if best == item.gold { right += 1 }
            if bestPerByte == item.gold { rightPerByte += 1 }
            outcomes.append(bestPerByte == item.gold ? "1" : "0")
        }
        return DownstreamResult(task: task, items: items.count, accuracy: RateEstimate(count: right, total: items.count),
                                accuracyPerByte: RateEstimate(count: rightPerByte, total: items.count), outcomes: outcomes,
                                seconds: Date().timeIntervalSince(started))
    }

    /// The first index of the largest value (ties go to the earlier answer).
    static func argmax(_ values: [Double]) -> Int {
        var best = 0
        for i in values.indices where values[i] > values[best] { best = i }
        return best
    }
}
