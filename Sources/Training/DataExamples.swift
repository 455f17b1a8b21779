import Foundation
import Tokenizers

/// One supervised fine-tuning example: a conversation whose assistant messages are the targets.
public struct SFTExample: Sendable, Equatable {
    /// The conversation (system, user and assistant turns).
    public var messages: [ChatMessage]

    /// Creates an example.
    public init(messages: [ChatMessage]) { self.messages = messages }
}

/// One preference example: a prompt and a preferred and a dispreferred continuation.
public struct PreferenceExample: Sendable, Equatable {
    /// The shared prompt (usually one user message; may hold earlier turns).
    public var prompt: [ChatMessage]
    /// The preferred continuation (assistant messages).
    public var chosen: [ChatMessage]
    /// The dispreferred continuation.
    public var rejected: [ChatMessage]

    /// Creates an example.
    public init(prompt: [ChatMessage], chosen: [ChatMessage], rejected: [ChatMessage]) {
        self.prompt = prompt
        self.chosen = chosen
        self.rejected = rejected
    }
}

/// Parsing of one JSON object into an example. Each function throws a `String` saying what is wrong
/// with the object; the reader adds the file and line.
enum ExampleParser {
    /// Supervised shapes, recognised by their keys:
    /// - `{"messages": [{"role", "content"}, ...]}` (also TRL's `"conversations"`),
    /// - `{"prompt", "response"}` or `{"prompt", "completion"}` (prompt may be a message list),
    /// - Alpaca `{"instruction", "input"?, "output"}`: the user turn is the instruction, followed by
    ///   a blank line and the input when the input is not empty.
    static func sft(_ object: [String: Any]) throws(LineProblem) -> SFTExample {
        let messages: [ChatMessage]
        if let list = object["messages"] ?? object["conversations"] {
            messages = try Self.messages(list, key: object["messages"] != nil ? "messages" : "conversations")
        } else if let prompt = object["prompt"], let answer = object["response"] ?? object["completion"] {
            messages = try turns(prompt, key: "prompt", role: .user)
                + turns(answer, key: object["response"] != nil ? "response" : "completion", role: .assistant)
        } else if let instruction = object["instruction"] {
            guard let instruction = instruction as? String else { throw LineProblem("\"instruction\" must be a string") }
            guard let output = object["output"] as? String else {
                throw LineProblem("Alpaca record has no string \"output\"")
            }
            let input = object["input"] as? String ?? ""
            let user = input.isEmpty ? instruction : instruction + "\n\n" + input
            messages = [ChatMessage(role: .user, content: user), ChatMessage(role: .assistant, content: output)]
        } else {
            throw LineProblem("unrecognised record with keys \(object.keys.sorted()); expected \"messages\", "
                + "\"prompt\"+\"response\"/\"completion\" or Alpaca \"instruction\"+\"output\"")
        }
        guard messages.contains(where: { $0.role == .assistant }) else {
            throw LineProblem("the conversation has no assistant message to learn from")
        }
        return SFTExample(messages: messages)
    }

    /// Preference shape `{"prompt"?, "chosen", "rejected"}`; each may be a string or a message list.
    /// Without `"prompt"`, `chosen` and `rejected` must be full conversations and their common
    /// leading messages become the prompt (TRL's implicit-prompt format).
    static func preference(_ object: [String: Any]) throws(LineProblem) -> PreferenceExample {
        guard let chosenValue = object["chosen"], let rejectedValue = object["rejected"] else {
            throw LineProblem("preference record needs \"chosen\" and \"rejected\" (keys seen: \(object.keys.sorted()))")
        }
        var prompt: [ChatMessage] = []
        var chosen = try turns(chosenValue, key: "chosen", role: .assistant)
        var rejected = try turns(rejectedValue, key: "rejected", role: .assistant)
        if let promptValue = object["prompt"] {
            prompt = try turns(promptValue, key: "prompt", role: .user)
        } else {
            var shared = 0
            while shared < min(chosen.count, rejected.count) - 1, chosen[shared] == rejected[shared] { shared += 1 }
            prompt = Array(chosen[..<shared])
            chosen.removeFirst(shared)
            rejected.removeFirst(shared)
        }
        guard !prompt.isEmpty else { throw LineProblem("the preference prompt is empty") }
        for (name, reply) in [("chosen", chosen), ("rejected", rejected)] where !reply.contains(where: { $0.role == .assistant }) {
            throw LineProblem("\"\(name)\" holds no assistant message")
        }
        return PreferenceExample(prompt: prompt, chosen: chosen, rejected: rejected)
    }

    /// A string becomes one message of `role`; a list is parsed as messages.
    static func turns(_ value: Any, key: String, role: ChatMessage.Role) throws(LineProblem) -> [ChatMessage] {
        if let text = value as? String { return [ChatMessage(role: role, content: text)] }
        return try messages(value, key: key)
    }

    /// A JSON list of `{"role", "content"}` objects.
    static func messages(_ value: Any, key: String) throws(LineProblem) -> [ChatMessage] {
        guard let list = value as? [Any] else { throw LineProblem("\"\(key)\" must be a string or a list of messages") }
        guard !list.isEmpty else { throw LineProblem("\"\(key)\" is an empty list") }
        var out: [ChatMessage] = []
        for (i, item) in list.enumerated() {
            guard let message = item as? [String: Any] else {
                throw LineProblem("\"\(key)\"[\(i)] is not an object with \"role\" and \"content\"")
            }
            guard let roleName = (message["role"] ?? message["from"]) as? String else {
                throw LineProblem("\"\(key)\"[\(i)] has no string \"role\"")
            }
            guard let role = ChatMessage.Role(rawValue: roleName) ?? aliases[roleName] else {
                throw LineProblem("\"\(key)\"[\(i)] has role \"\(roleName)\"; expected system, user or assistant")
            }
            guard let content = (message["content"] ?? message["value"]) as? String else {
                throw LineProblem("\"\(key)\"[\(i)] has no string \"content\"")
            }
            out.append(ChatMessage(role: role, content: content))
        }
        return out
    }

    /// ShareGPT role names.
    static let aliases: [String: ChatMessage.Role] = ["human": .user, "gpt": .assistant]
}

/// What is wrong with one record (the reader adds where).
struct LineProblem: Error {
    let message: String
    init(_ message: String) { self.message = message }
}
