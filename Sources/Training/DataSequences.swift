import Engine
import Foundation
import Logging
import Tokenizers

/// A preference pair as token sequences: both start with the same prompt tokens.
public struct PreferenceSequences: Sendable {
    /// Prompt + preferred continuation; targets are the continuation's assistant tokens.
    public var chosen: TrainingSequence
    /// Prompt + dispreferred continuation.
    public var rejected: TrainingSequence
    /// Number of leading tokens the two share (the rendered prompt).
    public var promptLength: Int
}

/// Sequences built from a data set, with what was cut or dropped.
public struct BuiltSequences<Element: Sendable>: Sendable {
    /// The sequences, in example order.
    public var items: [Element]
    /// Examples longer than the maximum length, cut to it.
    public var truncated: Int
    /// Examples dropped because no target token survived truncation.
    public var dropped: Int
}

/// Turns conversations into token sequences with the model's chat template, marking the assistant
/// tokens as loss targets.
///
/// Assistant spans are found by rendering incrementally, so any ``ChatTemplate`` works: for each
/// assistant message k, `render(messages[..<k], addGenerationPrompt: true)` is the text before the
/// reply and `render(messages[...k], addGenerationPrompt: false)` the text through it. The target is
/// the reply up to and including the template's end-of-turn string (`<|im_end|>`, `<|eot_id|>`), as
/// TRL's assistant-only loss trains it; what follows that string (ChatML's newline) is context.
/// Each span is encoded on its own, so the prompt tokens are exactly those inference feeds
/// (`ModelTokenizer.encodeChat`) and the reply tokens are those the model would generate.
public struct SequenceBuilder: Sendable {
    /// Text ↔ ids.
    public let tokenizer: any Tokenizer
    /// The chat template.
    public let template: any ChatTemplate
    /// BOS id prepended to every sequence when `addsBOS`.
    public let bosID: Int?
    /// Whether sequences start with BOS.
    public let addsBOS: Bool
    /// Longest sequence in tokens; longer ones keep their start and are counted as truncated.
    public let maxLength: Int

    /// A builder from explicit parts.
    public init(tokenizer: any Tokenizer, template: any ChatTemplate, bosID: Int?, addsBOS: Bool,
                maxLength: Int) throws(DatasetError) {
        guard maxLength >= 2 else { throw .invalidArgument("maxLength \(maxLength) must be at least 2") }
        self.tokenizer = tokenizer
        self.template = template
        self.bosID = bosID
        self.addsBOS = addsBOS
        self.maxLength = maxLength
    }

    /// A builder for a model's tokenizer; throws when the model declares no chat template FedGuard renders.
    public init(modelTokenizer: ModelTokenizer, maxLength: Int) throws(DatasetError) {
        guard let template = modelTokenizer.chatTemplate else {
            throw .tokenization("the model declares no chat template FedGuard knows (ChatML or Llama 3); "
                + "SFT data needs one to mark the assistant tokens")
        }
        try self.init(tokenizer: modelTokenizer.tokenizer, template: template, bosID: modelTokenizer.bosID,
                      addsBOS: modelTokenizer.addsBOS, maxLength: maxLength)
    }

    /// The sequence for one example and whether it was truncated; throws when the template does not
    /// render incrementally or no target survives truncation.
    public func sequence(for example: SFTExample) throws(DatasetError) -> (sequence: TrainingSequence, truncated: Bool) {
        let (tokens, mask) = try encode(example.messages, targetsFrom: 0)
        return try finish(tokens, mask)
    }

    /// The chosen and rejected sequences of a preference example; targets are the assistant
    /// messages after the prompt. Both are truncated to `maxLength` (keeping the start).
    public func sequences(for example: PreferenceExample) throws(DatasetError) -> (pair: PreferenceSequences, truncated: Bool) {
        let (chosenTokens, chosenMask) = try encode(example.prompt + example.chosen, targetsFrom: example.prompt.count)
        let (rejectedTokens, rejectedMask) = try encode(example.prompt + example.rejected, targetsFrom: example.prompt.count)
        let chosen = try finish(chosenTokens, chosenMask), rejected = try finish(rejectedTokens, rejectedMask)
        var shared = 0
        while shared < min(chosen.sequence.tokens.count, rejected.sequence.tokens.count),
              chosen.sequence.tokens[shared] == rejected.sequence.tokens[shared],
              !chosen.sequence.targetMask[shared], !rejected.sequence.targetMask[shared] { shared += 1 }
        return (PreferenceSequences(chosen: chosen.sequence, rejected: rejected.sequence, promptLength: shared),
                chosen.truncated || rejected.truncated)
    }

    /// Sequences for all `examples`; examples with no target left after truncation are dropped and
    /// counted (logged), other errors are thrown with the example's index.
    public func sequences(for examples: [SFTExample], logger: Logger) throws(DatasetError) -> BuiltSequences<TrainingSequence> {
        try build(examples, logger: logger) { (example: SFTExample) throws(DatasetError) in try sequence(for: example) }
    }

    /// Sequence pairs for all preference `examples` (drops and errors as for SFT).
    public func sequences(for examples: [PreferenceExample], logger: Logger) throws(DatasetError) -> BuiltSequences<PreferenceSequences> {
        try build(examples, logger: logger) { (example: PreferenceExample) throws(DatasetError) in
            let result = try sequences(for: example)
            return (result.pair, result.truncated)
        }
    }

    func build<Example, Element: Sendable>(_ examples: [Example], logger: Logger,
                                           _ one: (Example) throws(DatasetError) -> (Element, Bool))
        throws(DatasetError) -> BuiltSequences<Element> {
        var out = BuiltSequences<Element>(items: [], truncated: 0, dropped: 0)
        for (index, example) in examples.enumerated() {
            do {
                let (element, truncated) = try one(example)
                out.items.append(element)
                if truncated { out.truncated += 1 }
            } catch .noTargetWithinLength {
                out.dropped += 1
                out.truncated += 1
            } catch {
                throw .tokenization("example \(index): \(error)")
            }
        }
        if out.truncated > 0 || out.dropped > 0 {
            logger.info("truncated training examples", metadata: [
                "truncated": "\(out.truncated)", "dropped": "\(out.dropped)", "maxLength": "\(maxLength)",
            ])
        }
        guard !out.items.isEmpty else {
            throw .empty(file: "(\(examples.count) examples)",
                         detail: "no example keeps a target token within maxLength \(maxLength)")
        }
        return out
    }

    /// Tokens and target mask of a conversation; assistant messages at index ≥ `firstTarget` are targets.
    func encode(_ messages: [ChatMessage], targetsFrom firstTarget: Int) throws(DatasetError) -> ([Int], [Bool]) {
        let full = Array(template.render(messages, addGenerationPrompt: false).utf8)
        let stops = template.stopStrings.map { Array($0.utf8) }
        var tokens: [Int] = []
        var mask: [Bool] = []
        if addsBOS, let bos = bosID { tokens.append(bos); mask.append(false) }
        var cursor = 0
        func append(_ bytes: ArraySlice<UInt8>, target: Bool) {
            guard !bytes.isEmpty else { return }
            let ids = tokenizer.encode(String(decoding: bytes, as: UTF8.self), parseSpecialTokens: true)
            tokens += ids
            mask += Array(repeating: target, count: ids.count)
        }
        for k in messages.indices where messages[k].role == .assistant && k >= firstTarget {
            let before = Array(template.render(Array(messages[..<k]), addGenerationPrompt: true).utf8)
            let through = Array(template.render(Array(messages[...k]), addGenerationPrompt: false).utf8)
            guard through.starts(with: before), full.starts(with: through), before.count >= cursor else {
                throw .tokenization("the chat template does not render message \(k) incrementally (the text before "
                    + "the assistant reply is not a prefix of the conversation); use ChatML or Llama 3 templates")
            }
            let reply = through[before.count...]
            var end = through.count
            if let stop = Self.lastStop(in: reply, stops: stops) { end = stop }
            append(full[cursor..<before.count], target: false)
            append(full[before.count..<end], target: true)
            cursor = end
        }
        append(full[cursor...], target: false)
        if !mask.isEmpty { mask[0] = false }
        return (tokens, mask)
    }

    /// The end index of the last stop string inside `reply`, if any.
    static func lastStop(in reply: ArraySlice<UInt8>, stops: [[UInt8]]) -> Int? {
        var best: Int?
        for stop in stops where !stop.isEmpty && stop.count <= reply.count {
            var i = reply.endIndex - stop.count
            while i >= reply.startIndex {
                if reply[i..<(i + stop.count)].elementsEqual(stop) { best = max(best ?? 0, i + stop.count); break }
                i -= 1
            }
        }
        return best
    }

    /// Truncates to `maxLength`; throws `.noTargetWithinLength` when no target remains.
    func finish(_ tokens: [Int], _ mask: [Bool]) throws(DatasetError) -> (sequence: TrainingSequence, truncated: Bool) {
        let truncated = tokens.count > maxLength
        let keptTokens = Array(tokens.prefix(maxLength)), keptMask = Array(mask.prefix(maxLength))
        guard keptMask.contains(true) else {
            throw .noTargetWithinLength(maxLength)
        }
        do {
            return (try TrainingSequence(tokens: keptTokens, targetMask: keptMask), truncated)
        } catch {
            throw .tokenization("\(error)")
        }
    }
}
