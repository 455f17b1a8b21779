// Cleaning generated critiques and revisions before they can become training data. A 135M model
// loops ("1. Identify ... 2. Identify ..."), runs out of tokens mid-sentence, or follows a fitting
// refusal with the help it just declined ("I can't help with that. I can help you create ...").
// Each text is cut where it degenerates; what is left is kept or rejected with a reason.

import Foundation
import SafetyData
import SafetyFilter

/// Why a generated text was rejected.
public enum DegenerationReason: String, Sendable, Codable, CaseIterable {
    /// Nothing (or only whitespace and punctuation) was generated.
    case empty
    /// The text repeats itself from its start (a loop before any usable sentence).
    case repetition
    /// The generation hit its token limit before a single sentence ended.
    case cutOff = "cut_off"
}

/// A cleaned text, or why none is usable.
public struct CleanedText: Sendable, Equatable {
    /// The usable text (empty when rejected).
    public var text: String
    /// Why it was rejected (nil: usable).
    public var rejection: DegenerationReason?
    /// Whether anything was cut from the end.
    public var wasCut: Bool

    /// Whether the text is usable.
    public var isUsable: Bool { rejection == nil }
}

/// Splits, trims and rejects generated text.
public enum RevisionText {
    /// Sentences of `text`: ends at `.`, `!` or `?` followed by whitespace or the end, and at
    /// newlines; each trimmed, empty ones dropped. `complete` says whether the last one ended.
    public static func sentences(_ text: String) -> (sentences: [String], lastComplete: Bool) {
        var result: [String] = []
        var current = ""
        var previous: Character?
        var lastComplete = true
        for c in text {
            if let p = previous, ".!?".contains(p), c.isWhitespace {
                append(&current, to: &result)
            }
            if c == "\n" {
                append(&current, to: &result)
            } else {
                current.append(c)
            }
            previous = c
        }
        let tail = current.trimmingCharacters(in: .whitespacesAndNewlines)
        if !tail.isEmpty {
            lastComplete = ".!?:)`\"'".contains(tail.last!)
            result.append(tail)
        }
        return (result, lastComplete)
    }

    private static func append(_ current: inout String, to result: inout [String]) {
        let t = current.trimmingCharacters(in: .whitespacesAndNewlines)
        if !t.isEmpty { result.append(t) }
        current = ""
    }

    /// Phrases after a refusal that go back on it (the refusal is kept, the rest is cut).
    static let reversals = ["but i can", "i can help you", "here's how", "here is how", "here are", "here's a", "step 1", "first,"]

    /// Cleans `text`: keeps at most `maxSentences` sentences, stops before the first sentence that
    /// repeats an earlier one (case-insensitive) or, when `refusal` is true and the text opens with a
    /// refusal, that goes back on it; drops an unfinished last sentence when `finished` is false (the
    /// token limit cut it).
    public static func clean(_ text: String, maxSentences: Int, finished: Bool, refusal: Bool = false) -> CleanedText {
        var (all, lastComplete) = sentences(text)
        var wasCut = false
        if !finished && !lastComplete && !all.isEmpty {
            all.removeLast()
            wasCut = true
            if all.isEmpty { return CleanedText(text: "", rejection: .cutOff, wasCut: true) }
        }
        guard !all.isEmpty, all.contains(where: { $0.contains(where: \.isLetter) }) else {
            return CleanedText(text: "", rejection: .empty, wasCut: wasCut)
        }
        var kept: [String] = []
        var seen: Set<String> = []
        var grams: Set<String> = []
        // Only a text that opens by refusing can go back on its refusal.
        let opensWithRefusal = refusal && RefusalOpening.isRefusal(all[0])
        for (i, sentence) in all.enumerated() {
            let key = normalized(sentence)
            let sentenceGrams = wordGrams(key, n: 5)
            // A sentence seen before, a loop inside one sentence, or a 5-word run from an earlier
            // sentence: the text has started to repeat itself.
            if seen.contains(key) || isLoop(sentence) || !grams.isDisjoint(with: sentenceGrams) { wasCut = true; break }
            let lower = sentence.lowercased().replacingOccurrences(of: "\u{2019}", with: "'")
            if refusal, i > 0, opensWithRefusal, reversals.contains(where: { lower.contains($0) }) { wasCut = true; break }
            if kept.count == maxSentences { wasCut = true; break }
            seen.insert(key)
            grams.formUnion(sentenceGrams)
            kept.append(sentence)
        }
        let words = kept.joined(separator: " ").split(separator: " ").filter { $0.contains(where: \.isLetter) }
        if words.count < 2 { return CleanedText(text: "", rejection: .repetition, wasCut: true) }
        return CleanedText(text: kept.joined(separator: " "), rejection: nil, wasCut: wasCut)
    }

    /// The word n-grams of a normalised text.
    static func wordGrams(_ normalizedText: String, n: Int) -> Set<String> {
        let words = normalizedText.split(separator: " ")
        guard words.count >= n else { return [] }
        return Set((0...(words.count - n)).map { words[$0..<$0 + n].joined(separator: " ") })
    }

    /// Lowercased, letters and digits only, single spaces.
    static func normalized(_ s: String) -> String {
        String(s.lowercased().map { $0.isLetter || $0.isNumber ? $0 : " " }).split(separator: " ").joined(separator: " ")
    }

    /// Whether a sentence is itself a loop: one of its word 3-grams occurs three or more times.
    static func isLoop(_ sentence: String) -> Bool {
        let words = normalized(sentence).split(separator: " ")
        guard words.count >= 9 else { return false }
        var counts: [String: Int] = [:]
        for i in 0...(words.count - 3) {
            let gram = words[i..<i + 3].joined(separator: " ")
            counts[gram, default: 0] += 1
            if counts[gram]! >= 3 { return true }
        }
        return false
    }
}
