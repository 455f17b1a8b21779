import Foundation
import ModelFiles
import Tokenizers

/// A model's tokenizer with what generation needs around it: the chat template, BOS and the
/// token ids that end a turn.
public struct ModelTokenizer: Sendable {
    /// The text ↔ id mapping.
    public let tokenizer: any Tokenizer
    /// The chat template, when the checkpoint declares one that FedGuard renders.
    public let chatTemplate: (any ChatTemplate)?
    /// Beginning-of-sequence id, prepended when `addsBOS`.
    public let bosID: Int?
    /// Whether encoded prompts start with BOS (GGUF `tokenizer.ggml.add_bos_token`).
    public let addsBOS: Bool
    /// Ids that end generation: EOS, end-of-turn and the template's stop tokens.
    public let stopIDs: Set<Int>

    /// Encodes raw text (special tokens in the text are parsed), with BOS if the model wants it.
    public func encode(_ text: String) -> [Int] {
        let ids = tokenizer.encode(text, parseSpecialTokens: true)
        if addsBOS, let bos = bosID, ids.first != bos { return [bos] + ids }
        return ids
    }

    /// Renders a conversation with the chat template (ready for the assistant's reply) and encodes it.
    public func encodeChat(_ messages: [ChatMessage]) throws(EngineError) -> [Int] {
        guard let template = chatTemplate else {
            throw .tokenizer("the model declares no chat template FedGuard knows; use --raw")
        }
        return encode(template.render(messages, addGenerationPrompt: true))
    }

    /// Stop strings of the chat template.
    public var stopStrings: [String] { chatTemplate?.stopStrings ?? [] }
}

/// Builds `ModelTokenizer`s from checkpoint metadata.
enum TokenizerLoader {
    /// From GGUF `tokenizer.ggml.*` metadata (byte-level BPE, `model` = "gpt2").
    static func fromGGUF(_ file: GGUFFile) throws -> ModelTokenizer? {
        let meta = file.metadata
        guard let tokens = meta["tokenizer.ggml.tokens"]?.stringArray else { return nil }
        let model = meta["tokenizer.ggml.model"]?.stringValue ?? "gpt2"
        guard model == "gpt2" else {
            throw EngineError.tokenizer("\(file.url.path): tokenizer model '\(model)' is not supported (only byte-level BPE, 'gpt2')")
        }
        let merges = meta["tokenizer.ggml.merges"]?.stringArray ?? []
        let types = meta["tokenizer.ggml.token_type"]?.intArray
        let preName = meta["tokenizer.ggml.pre"]?.stringValue ?? "gpt2"
        let pre = PreTokenizerKind(ggufName: preName) ?? .gpt2
        let bpe: BPETokenizer
        do {
            bpe = try BPETokenizer(tokens: tokens, merges: merges, tokenTypes: types, preTokenizer: pre)
        } catch {
            throw EngineError.tokenizer("\(file.url.path): \(error)")
        }
        var stops = Set<Int>()
        for key in ["tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"] {
            if let id = meta[key]?.intValue { stops.insert(id) }
        }
        let template = ChatTemplates.detect(jinja: meta["tokenizer.chat_template"]?.stringValue)
        for s in template?.stopStrings ?? [] {
            if let id = bpe.id(forToken: s) { stops.insert(id) }
        }
        return ModelTokenizer(
            tokenizer: bpe, chatTemplate: template,
            bosID: meta["tokenizer.ggml.bos_token_id"]?.intValue,
            addsBOS: meta["tokenizer.ggml.add_bos_token"].flatMap { if case .bool(let b) = $0 { b } else { nil } } ?? false,
            stopIDs: stops)
    }

    /// From a Hugging Face `tokenizer.json` (and `tokenizer_config.json` beside it for the template).
    static func fromHuggingFace(_ url: URL) throws -> ModelTokenizer {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw EngineError.tokenizer("\(url.path) is missing")
        }
        let bpe: BPETokenizer
        do { bpe = try BPETokenizer(tokenizerJSON: data) } catch { throw EngineError.tokenizer("\(url.path): \(error)") }
        var jinja: String?
        var eos: String?
        var bos: String?
        let configURL = url.deletingLastPathComponent().appendingPathComponent("tokenizer_config.json")
        if let cfg = FileManager.default.contents(atPath: configURL.path),
           let obj = try? JSONSerialization.jsonObject(with: cfg) as? [String: Any] {
            jinja = obj["chat_template"] as? String
            eos = obj["eos_token"] as? String
            bos = obj["bos_token"] as? String
        }
        let template = ChatTemplates.detect(jinja: jinja)
        var stops = Set<Int>()
        for s in (template?.stopStrings ?? []) + [eos, "<|endoftext|>"].compactMap({ $0 }) {
            if let id = bpe.id(forToken: s) { stops.insert(id) }
        }
        return ModelTokenizer(tokenizer: bpe, chatTemplate: template, bosID: bos.flatMap { bpe.id(forToken: $0) },
                              addsBOS: false, stopIDs: stops)
    }
}
