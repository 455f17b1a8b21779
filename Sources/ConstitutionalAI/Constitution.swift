// The constitution: principles the model's answers are critiqued and revised against, and worked
// critique → revision exemplars shown as few-shot context. Loaded from YAML (FedGuard ships
// `constitution.yaml`; a run may name its own) and validated: a missing or empty field names the
// file and the key.

import Foundation
import Yams

/// Which prompts a principle is drawn for.
public enum PrincipleScope: String, Sendable, Codable, CaseIterable {
    /// Harmful (red-team) prompts only.
    case harmful
    /// Benign prompts only (principles that keep the model helpful).
    case benign
    /// Every prompt.
    case any

    /// Whether a prompt of this harmfulness may draw the principle.
    public func applies(toHarmful harmful: Bool) -> Bool {
        switch self {
        case .harmful: harmful
        case .benign: !harmful
        case .any: true
        }
    }
}

/// One principle: a critique request and a revision request.
public struct Principle: Sendable, Codable, Equatable {
    /// A short unique name (`weapons`, `helpful-not-preachy`).
    public var id: String
    /// Which prompts it is drawn for.
    public var appliesTo: PrincipleScope
    /// Asks the model to critique its last answer.
    public var critique: String
    /// Asks the model to rewrite its last answer.
    public var revision: String

    /// Creates a principle.
    public init(id: String, appliesTo: PrincipleScope, critique: String, revision: String) {
        self.id = id
        self.appliesTo = appliesTo
        self.critique = critique
        self.revision = revision
    }

    enum CodingKeys: String, CodingKey {
        case id, critique, revision
        case appliesTo = "applies_to"
    }
}

/// A worked example: a prompt, an answer, its critique and its revision.
public struct ConstitutionExemplar: Sendable, Codable, Equatable {
    /// The user's request.
    public var prompt: String
    /// Whether the request is harmful.
    public var harmful: Bool
    /// The answer being critiqued.
    public var answer: String
    /// The critique of that answer.
    public var critique: String
    /// The revised answer.
    public var revision: String

    /// Creates an exemplar.
    public init(prompt: String, harmful: Bool, answer: String, critique: String, revision: String) {
        self.prompt = prompt
        self.harmful = harmful
        self.answer = answer
        self.critique = critique
        self.revision = revision
    }
}

/// A constitution file's problem, with the file and the key.
public enum ConstitutionError: Error, CustomStringConvertible, Equatable {
    /// The file cannot be read or is not YAML.
    case unreadable(path: String, reason: String)
    /// A field is missing, empty or of the wrong type.
    case invalid(path: String, key: String, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): "constitution \(path): \(reason)"
        case .invalid(let path, let key, let reason): "constitution \(path), key \(key): \(reason)"
        }
    }
}

/// Principles and exemplars.
public struct Constitution: Sendable, Codable, Equatable {
    /// A name for reports.
    public var name: String
    /// The principles (at least one for harmful prompts).
    public var principles: [Principle]
    /// Few-shot exemplars (may be empty).
    public var exemplars: [ConstitutionExemplar]

    /// Creates a constitution; call ``validate(path:)`` before use.
    public init(name: String, principles: [Principle], exemplars: [ConstitutionExemplar]) {
        self.name = name
        self.principles = principles
        self.exemplars = exemplars
    }

    /// The principles that may be drawn for a prompt of this harmfulness.
    public func principles(forHarmful harmful: Bool) -> [Principle] {
        principles.filter { $0.appliesTo.applies(toHarmful: harmful) }
    }

    /// Checks that every field is filled, ids are unique, and both harmful and benign prompts have
    /// a principle; errors name `path` and the key.
    public func validate(path: String) throws(ConstitutionError) {
        guard !name.trimmingCharacters(in: .whitespaces).isEmpty else { throw .invalid(path: path, key: "name", reason: "is empty") }
        guard !principles.isEmpty else { throw .invalid(path: path, key: "principles", reason: "no principles") }
        var seen: Set<String> = []
        for (i, p) in principles.enumerated() {
            for (key, value) in [("id", p.id), ("critique", p.critique), ("revision", p.revision)]
            where value.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                throw .invalid(path: path, key: "principles[\(i)].\(key)", reason: "is empty")
            }
            guard seen.insert(p.id).inserted else {
                throw .invalid(path: path, key: "principles[\(i)].id", reason: "'\(p.id)' appears twice")
            }
        }
        for harmful in [true, false] where principles(forHarmful: harmful).isEmpty {
            throw .invalid(path: path, key: "principles", reason: "none applies to \(harmful ? "harmful" : "benign") prompts")
        }
        for (i, e) in exemplars.enumerated() {
            for (key, value) in [("prompt", e.prompt), ("answer", e.answer), ("critique", e.critique), ("revision", e.revision)]
            where value.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                throw .invalid(path: path, key: "exemplars[\(i)].\(key)", reason: "is empty")
            }
        }
    }

    /// Parses and validates YAML text; `path` names it in errors.
    public static func parse(yaml: String, path: String) throws(ConstitutionError) -> Constitution {
        let constitution: Constitution
        do {
            constitution = try YAMLDecoder().decode(Constitution.self, from: yaml)
        } catch let error as DecodingError {
            throw Self.describe(error, path: path)
        } catch {
            throw .unreadable(path: path, reason: "not YAML: \(error)")
        }
        try constitution.validate(path: path)
        return constitution
    }

    /// Reads and validates a constitution file.
    public static func load(_ url: URL) throws(ConstitutionError) -> Constitution {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw .unreadable(path: url.path, reason: "cannot be read as UTF-8 text (\(error.localizedDescription))")
        }
        return try parse(yaml: text, path: url.path)
    }

    /// FedGuard's constitution (`constitution.yaml`, shipped with the module).
    public static func standard() throws(ConstitutionError) -> Constitution {
        guard let url = Bundle.module.url(forResource: "constitution", withExtension: "yaml") else {
            throw .unreadable(path: "constitution.yaml", reason: "the module's resource is missing")
        }
        return try load(url)
    }

    static func describe(_ error: DecodingError, path: String) -> ConstitutionError {
        func key(_ codingPath: [any CodingKey], _ last: String? = nil) -> String {
            let parts = codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" } + (last.map { [".\($0)"] } ?? [])
            let joined = parts.joined()
            return joined.hasPrefix(".") ? String(joined.dropFirst()) : (joined.isEmpty ? "(top level)" : joined)
        }
        switch error {
        case .keyNotFound(let k, let context):
            return .invalid(path: path, key: key(context.codingPath, k.stringValue), reason: "is missing")
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            return .invalid(path: path, key: key(context.codingPath), reason: context.debugDescription)
        @unknown default:
            return .unreadable(path: path, reason: "\(error)")
        }
    }
}
