// Chat templates rendered natively (no Jinja engine): ChatML as SmolLM2 ships it and the
// Llama 3 instruct format, plus detection from a GGUF/HF `chat_template` string.

/// One message of a conversation.
public struct ChatMessage: Sendable, Codable, Equatable {
    /// The author of a message; encoded as its lowercase name.
    public enum Role: String, Sendable, Codable, CaseIterable {
        /// Instructions that frame the conversation.
        case system
        /// The person talking to the model.
        case user
        /// The model.
        case assistant
    }

    /// Who wrote the message.
    public var role: Role
    /// The text.
    public var content: String

    /// Creates a message.
    public init(role: Role, content: String) {
        self.role = role
        self.content = content
    }
}

/// Renders a conversation into the prompt text a chat model was trained on.
public protocol ChatTemplate: Sendable {
    /// The prompt for `messages`; with `addGenerationPrompt`, ends with the header that opens
    /// the assistant's reply.
    func render(_ messages: [ChatMessage], addGenerationPrompt: Bool) -> String
    /// Strings that end the assistant's turn; generation stops when one is produced.
    var stopStrings: [String] { get }
}

/// ChatML (`<|im_start|>role\ncontent<|im_end|>\n`), as SmolLM2's template renders it.
///
/// reference: SmolLM2-135M-Instruct `tokenizer.chat_template`: when the first message is not
/// a system message, a system turn with the default prompt is inserted first.
public struct ChatMLTemplate: ChatTemplate {
    /// SmolLM2's default system prompt.
    public static let smolLM2SystemPrompt = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"

    /// The system prompt inserted when the conversation has none; `nil` inserts nothing.
    public let defaultSystemPrompt: String?

    /// Creates a ChatML template.
    public init(defaultSystemPrompt: String?) {
        self.defaultSystemPrompt = defaultSystemPrompt
    }

    /// `["<|im_end|>"]`.
    public var stopStrings: [String] { ["<|im_end|>"] }

    /// Renders `messages` as SmolLM2's Jinja template does.
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool) -> String {
        var out = ""
        if let first = messages.first, first.role != .system, let defaultSystemPrompt {
            out += "<|im_start|>system\n\(defaultSystemPrompt)<|im_end|>\n"
        }
        for message in messages {
            out += "<|im_start|>\(message.role.rawValue)\n\(message.content)<|im_end|>\n"
        }
        if addGenerationPrompt { out += "<|im_start|>assistant\n" }
        return out
    }
}

/// The Llama 3 instruct format:
/// `<|begin_of_text|><|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|>`…
///
/// reference: Meta Llama 3 Instruct `chat_template`; message content is trimmed of leading and
/// trailing whitespace (Jinja's `trim`), and the text starts with `<|begin_of_text|>` (so do not
/// add a BOS id when encoding it with special tokens parsed).
public struct Llama3Template: ChatTemplate {
    /// Creates the template.
    public init() {}

    /// `["<|eot_id|>"]`.
    public var stopStrings: [String] { ["<|eot_id|>"] }

    /// Renders `messages` as the Llama 3 Instruct Jinja template does.
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool) -> String {
        var out = messages.isEmpty ? "" : "<|begin_of_text|>"
        for message in messages {
            out += "<|start_header_id|>\(message.role.rawValue)<|end_header_id|>\n\n"
            out += Self.trim(message.content) + "<|eot_id|>"
        }
        if addGenerationPrompt { out += "<|start_header_id|>assistant<|end_header_id|>\n\n" }
        return out
    }

    /// Python's `str.strip()`: removes White_Space scalars and the separators U+001C...U+001F.
    static func trim(_ text: String) -> String {
        func isSpace(_ scalar: Unicode.Scalar) -> Bool {
            scalar.properties.isWhitespace || (0x1C...0x1F).contains(scalar.value)
        }
        let scalars = text.unicodeScalars
        guard let first = scalars.firstIndex(where: { !isSpace($0) }),
              let last = scalars.lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(scalars[first...last])
    }
}

/// Picks a native template for a Jinja chat template.
public enum ChatTemplates {
    /// The template matching `jinja` by its markers: `<|im_start|>` → ``ChatMLTemplate`` (with
    /// the default system prompt written in the template, if any); `<|start_header_id|>` and
    /// `<|eot_id|>` → ``Llama3Template``. `nil` for other or missing templates.
    public static func detect(jinja: String?) -> (any ChatTemplate)? {
        guard let jinja else { return nil }
        if jinja.contains("<|im_start|>") {
            return ChatMLTemplate(defaultSystemPrompt: defaultChatMLSystemPrompt(in: jinja))
        }
        if jinja.contains("<|start_header_id|>"), jinja.contains("<|eot_id|>") {
            return Llama3Template()
        }
        return nil
    }

    /// The literal system prompt in `'<|im_start|>system\n…<|im_end|>` of a ChatML template,
    /// when the template writes one (as opposed to `+ message['content']`).
    static func defaultChatMLSystemPrompt(in jinja: String) -> String? {
        let opener = "<|im_start|>system"
        var searchStart = jinja.startIndex
        while let found = jinja.range(of: opener, range: searchStart..<jinja.endIndex) {
            searchStart = found.upperBound
            var rest = jinja[found.upperBound...]
            if rest.hasPrefix("\\n") {
                rest = rest.dropFirst(2)
            } else if rest.hasPrefix("\n") {
                rest = rest.dropFirst(1)
            } else {
                continue
            }
            guard let close = rest.range(of: "<|im_end|>") else { continue }
            let prompt = rest[..<close.lowerBound]
            if prompt.isEmpty || prompt.contains("'") || prompt.contains("\"") || prompt.contains("{") { continue }
            return String(prompt)
        }
        return nil
    }
}
