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
    /// newlines; each trimmed, empty ones dropped. A list marker ("2.", "Step 3.") starts its item's
    /// sentence instead of being one. `complete` says whether the last one ended.
    public static func sentences(_ text: String) -> (sentences: [String], lastComplete: Bool) {
        let (pieces, lastComplete) = split(text)
        return (pieces.map(\.text), lastComplete)
    }

    /// A sentence and whether it began a line of the text (a list item, a new paragraph).
    struct Sentence: Equatable {
        var text: String
        var startsLine: Bool
    }

    /// ``sentences(_:)`` with where each sentence began.
    static func split(_ text: String) -> (sentences: [Sentence], lastComplete: Bool) {
        var result: [Sentence] = []
        var current = ""
        var startsLine = true
        var previous: Character?
        func append(nextStartsLine: Bool) {
            let t = current.trimmingCharacters(in: .whitespacesAndNewlines)
            if !t.isEmpty { result.append(Sentence(text: t, startsLine: startsLine)) }
            current = ""
            // Text on the same line after an empty piece still starts that line.
            if !t.isEmpty || nextStartsLine { startsLine = nextStartsLine }
        }
        for c in text {
            if let p = previous, ".!?".contains(p), c.isWhitespace, c != "\n", !isListMarker(current) {
                append(nextStartsLine: false)
            }
            if c == "\n" {
                append(nextStartsLine: true)
            } else {
                current.append(c)
            }
            previous = c
        }
        var lastComplete = true
        let tail = current.trimmingCharacters(in: .whitespacesAndNewlines)
        if !tail.isEmpty {
            lastComplete = ".!?:)`\"'".contains(tail.last!)
            result.append(Sentence(text: tail, startsLine: startsLine))
        }
        return (result, lastComplete)
    }

    /// Whether `text` (so far) is only a list marker: one to three digits or "Step" and digits,
    /// then the full stop just read. Measured in CAI's data: counted as sentences, markers cut
    /// 12 of 166 benign answers of a first step to "1. Start by choosing a canvas. 2.", and the
    /// adapter trained on them wrote 90 such of 166 three steps later.
    static func isListMarker(_ text: String) -> Bool {
        var t = Substring(text.trimmingCharacters(in: .whitespaces))
        guard t.hasSuffix(".") else { return false }
        t = t.dropLast()
        if t.lowercased().hasPrefix("step ") { t = t.dropFirst(5) }
        return (1...3).contains(t.count) && t.allSatisfy(\.isASCII) && t.allSatisfy(\.isNumber)
    }

    /// Phrases after a refusal that go back on it (the refusal is kept, the rest is cut).
    static let reversals = ["but i can", "i can help you", "here's how", "here is how", "here are", "here's a", "step 1", "first,"]

    /// Cleans `text`: keeps at most `maxSentences` sentences, stops before the first sentence that
    /// repeats an earlier one (case-insensitive) or, when `refusal` is true and the text opens with a
    /// refusal, that goes back on it; drops an unfinished last sentence when `finished` is false (the
    /// token limit cut it).
    public static func clean(_ text: String, maxSentences: Int, finished: Bool, refusal: Bool = false) -> CleanedText {
        var (all, lastComplete) = split(text)
        var wasCut = false
        if !finished && !lastComplete && !all.isEmpty {
            all.removeLast()
            wasCut = true
            if all.isEmpty { return CleanedText(text: "", rejection: .cutOff, wasCut: true) }
        }
        guard !all.isEmpty, all.contains(where: { $0.text.contains(where: \.isLetter) }) else {
            return CleanedText(text: "", rejection: .empty, wasCut: wasCut)
        }
        // A piece without a letter ("2." left after a list's last item, "...") says nothing.
        let letterless = all.count
        all.removeAll { !$0.text.contains(where: \.isLetter) }
        if all.count < letterless { wasCut = true }
        var kept: [Sentence] = []
        var seen: Set<String> = []
        var grams: Set<String> = []
        // Only a text that opens by refusing can go back on its refusal.
        let opensWithRefusal = refusal && RefusalOpening.isRefusal(all[0].text)
        for (i, piece) in all.enumerated() {
            let sentence = piece.text
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
            kept.append(piece)
        }
        // Sentences that began a line (list items, paragraphs) keep their line break.
        var joined = ""
        for piece in kept {
            if !joined.isEmpty { joined += piece.startsLine ? "\n" : " " }
            joined += piece.text
        }
        let words = joined.split(whereSeparator: \.isWhitespace).filter { $0.contains(where: \.isLetter) }
        if words.count < 2 { return CleanedText(text: "", rejection: .repetition, wasCut: true) }
        return CleanedText(text: joined, rejection: nil, wasCut: wasCut)
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
