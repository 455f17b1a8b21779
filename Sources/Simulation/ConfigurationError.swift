import Yams
import ConstitutionalAI
import Federation
import Foundation

/// A run configuration that cannot be used; each case names the key (dotted, e.g.
/// `local.tokens_per_batch`), the value seen and what is allowed.
public enum ConfigurationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A value is out of range.
    case invalidValue(key: String, value: String, allowed: String)
    /// A key the configuration does not have.
    case unknownKey(key: String, allowed: [String])
    /// A value of the wrong type (e.g. text where a number is expected).
    case wrongType(key: String, detail: String)
    /// The YAML text does not parse.
    case malformedYAML(String)
    /// A `--set` argument is not `key=value`.
    case malformedOverride(String)

    public var description: String {
        switch self {
        case let .invalidValue(key, value, allowed):
            // Settings checked by their own module (cai.*) report the rule, not the value.
            if value.isEmpty { return "configuration key '\(key)' is invalid: \(allowed)" }
            return "configuration key '\(key)' = \(value) is invalid; allowed: \(allowed)"
        case let .unknownKey(key, allowed):
            return "unknown configuration key '\(key)'; allowed here: \(allowed.joined(separator: ", "))"
        case let .wrongType(key, detail):
            return "configuration key '\(key)': \(detail)"
        case let .malformedYAML(detail):
            return "the configuration is not valid YAML: \(detail)"
        case let .malformedOverride(text):
            return "--set '\(text)' is not key=value (e.g. --set rounds=3 or --set strategy.name=fedadam)"
        }
    }

    /// Re-keys a registry error from the `section` of the configuration (`strategy`, `policies`).
    init(federation error: FederationError, section: String) {
        switch error {
        case let .invalidParameter(key, value, allowed):
            self = .invalidValue(key: key.hasPrefix(section) ? key : "\(section).\(key)", value: value, allowed: allowed)
        case let .unknownName(_, value, allowed):
            self = .invalidValue(key: "\(section).name", value: "'\(value)'", allowed: allowed.joined(separator: ", "))
        default:
            self = .invalidValue(key: section, value: "(see detail)", allowed: error.description)
        }
    }

    /// Translates a decoding error into the key it concerns; with the composed document `root`,
    /// also the value found and its line (a value that came from `--set` has no line).
    static func from(decoding error: DecodingError, root: Node? = nil) -> ConfigurationError {
        /// "found 'three' (line 3)" for the node at `codingPath`, when the document has it.
        func found(_ codingPath: [any CodingKey]) -> String {
            var node = root
            for key in codingPath {
                if let index = key.intValue { node = node?.sequence.flatMap { index < $0.count ? $0[index] : nil } }
                else { node = node?.mapping?[key.stringValue] }
            }
            guard let node else { return "" }
            let value = node.scalar.map { "'\($0.string)'" } ?? (node.mapping != nil ? "a mapping" : "a list")
            let line = node.mark.map { " (line \($0.line))" } ?? " (from --set)"
            return ", found \(value)\(line)"
        }
        func path(_ codingPath: [any CodingKey], _ last: (any CodingKey)? = nil) -> String {
            let keys = codingPath + (last.map { [$0] } ?? [])
            let text = keys.map { $0.intValue.map { "\($0)" } ?? $0.stringValue }.joined(separator: ".")
            return text.isEmpty ? "(top level)" : text
        }
        switch error {
        case let .typeMismatch(type, context):
            let place = found(context.codingPath)
            return .wrongType(key: path(context.codingPath),
                              detail: "expected \(typeName(type))" + (place.isEmpty ? "; \(context.debugDescription)" : place))
        case let .valueNotFound(type, context):
            return .wrongType(key: path(context.codingPath), detail: "expected \(typeName(type)), found null")
        case let .keyNotFound(key, context):
            return .wrongType(key: path(context.codingPath, key), detail: "required key is missing")
        case let .dataCorrupted(context):
            if let underlying = context.underlyingError as? ConfigurationError { return underlying }
            // A value the key's type rejects (an unknown enum value, say): add what the key takes, from
            // its `config show` comment, which names the values.
            let key = path(context.codingPath)
            let takes = ConfigurationComments.text[key].map { "; the key takes: \($0)" } ?? ""
            return .wrongType(key: key, detail: context.debugDescription + takes)
        @unknown default:
            return .malformedYAML("\(error)")
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type, is UInt64.Type: return "an integer"
        case is Double.Type, is Float.Type: return "a number"
        case is String.Type: return "text"
        case is Bool.Type: return "true or false"
        case is Node.Scalar.Type: return "a single value"
        default: return "\(type)"
        }
    }
}

extension RunConfiguration {
    /// Checks every range; throws ``ConfigurationError/invalidValue(key:value:allowed:)`` naming
    /// the first bad key.
    public func validate() throws(ConfigurationError) {
        func check(_ ok: Bool, _ key: String, _ value: some CustomStringConvertible, _ allowed: String) throws(ConfigurationError) {
            if !ok { throw .invalidValue(key: key, value: value.description, allowed: allowed) }
        }
        if let model { try check(!model.isEmpty, "model", "''", "a GGUF file or model directory, or null for the default") }
        if let threads { try check(threads >= 1, "threads", threads, "an integer >= 1, or null for all cores") }
        try check(clients >= 1, "clients", clients, "an integer >= 1")
        try check(clientsPerRound >= 1 && clientsPerRound <= clients, "clients_per_round", clientsPerRound,
                  "1...\(clients) (at most clients)")
        try check(rounds >= 1, "rounds", rounds, "an integer >= 1")
        try check(minReplies >= 1 && minReplies <= clientsPerRound, "min_replies", minReplies,
                  "1...\(clientsPerRound) (at most clients_per_round)")
        if let bound = updateNormBound {
            try check(bound > 0 && bound.isFinite, "update_norm_bound", bound, "a finite number > 0, or null for no bound")
        }
        try check(learningRate > 0 && learningRate.isFinite, "learning_rate", learningRate, "a finite number > 0")
        try check(learningRateFloor >= 0 && learningRateFloor <= learningRate, "learning_rate_floor", learningRateFloor,
                  "a number in [0, learning_rate]")

        try check(!data.directory.isEmpty, "data.directory", "''", "a directory path")
        try check(data.maxSequenceLength >= 2 && data.maxSequenceLength <= local.tokensPerBatch,
                  "data.max_sequence_length", data.maxSequenceLength, "2...\(local.tokensPerBatch) (at most local.tokens_per_batch)")
        let build = data.build
        try check(build.harmfulFraction >= 0 && build.harmfulFraction <= 1, "data.build.harmful_fraction",
                  build.harmfulFraction, "a number in [0, 1]")
        try check(build.samplesPerClient >= 1, "data.build.samples_per_client", build.samplesPerClient, "an integer >= 1")
        try check(["iid", "dirichlet"].contains(build.partition), "data.build.partition", "'\(build.partition)'",
                  "iid, dirichlet")
        try check(build.dirichletAlpha > 0 && build.dirichletAlpha.isFinite, "data.build.dirichlet_alpha",
                  build.dirichletAlpha, "a finite number > 0")

        if let steps = local.steps { try check(steps >= 1, "local.steps", steps, "an integer >= 1, or null to use local.epochs") }
        try check(local.epochs >= 1, "local.epochs", local.epochs, "an integer >= 1")
        try check(local.tokensPerBatch >= 16, "local.tokens_per_batch", local.tokensPerBatch, "an integer >= 16")
        try check(local.gradientAccumulation >= 1, "local.gradient_accumulation", local.gradientAccumulation, "an integer >= 1")
        if let norm = local.maxGradientNorm {
            try check(norm > 0 && norm.isFinite, "local.max_gradient_norm", norm, "a finite number > 0, or null for no clipping")
        }
        try check(local.weightDecay >= 0 && local.weightDecay.isFinite, "local.weight_decay", local.weightDecay, "a number >= 0")

        try check(lora.rank >= 1, "lora.rank", lora.rank, "an integer >= 1")
        try check(lora.alpha > 0 && lora.alpha.isFinite, "lora.alpha", lora.alpha, "a finite number > 0")
        try check(lora.dropout >= 0 && lora.dropout < 1, "lora.dropout", lora.dropout, "a number in [0, 1)")
        try check(!lora.targets.isEmpty && Set(lora.targets).count == lora.targets.count, "lora.targets",
                  lora.targets.map(\.rawValue), "a non-empty list without repeats of q, k, v, o, gate, up, down")

        if case let .scaffold(parameters) = strategy {
            try check(parameters.totalClients == clients, "strategy.total_clients", parameters.totalClients,
                      "\(clients) (= clients; leave it out to take clients)")
        }
        try check(safetyScreen.canaries >= 1, "safety_screen.canaries", safetyScreen.canaries, "an integer >= 1")
        try check(safetyScreen.maxShift >= 0 && safetyScreen.maxShift.isFinite, "safety_screen.max_shift", safetyScreen.maxShift,
                  "a finite number >= 0")
        if let factor = safetyScreen.relativeShift {
            try check(factor > 1 && factor.isFinite, "safety_screen.relative_shift", factor, "a finite number > 1, or null for no relative rule")
        }
        try check(safetyScreen.minShift >= 0 && safetyScreen.minShift.isFinite, "safety_screen.min_shift", safetyScreen.minShift,
                  "a finite number >= 0")
        try check(safetyScreen.responseWords >= 1, "safety_screen.response_words", safetyScreen.responseWords, "an integer >= 1")
        for (index, adversary) in adversaries.enumerated() { try adversary.validate(index: index, clientCount: clients) }
        try check(FilterSettings.kinds.contains(filter.kind), "filter.kind", "'\(filter.kind)'",
                  FilterSettings.kinds.joined(separator: ", "))
        if let threshold = filter.threshold {
            try check(threshold.isFinite && threshold >= 0 && threshold <= 1, "filter.threshold", threshold,
                      "a number in [0, 1], or null for the judge's own")
        }
        try check(filter.batchSize >= 1, "filter.batch_size", filter.batchSize, "an integer >= 1")
        do { try cai.validate() } catch {
            guard case let .settings(key, reason) = error else { throw .invalidValue(key: "cai", value: "", allowed: error.description) }
            throw .invalidValue(key: key, value: "", allowed: reason)
        }
        try check(evaluation.every >= 0, "evaluation.every", evaluation.every, "an integer >= 0 (0: never)")
        try check(!evaluation.suite.isEmpty, "evaluation.suite", "''", "a suite name such as advbench")
        if let limit = evaluation.limit { try check(limit >= 1, "evaluation.limit", limit, "an integer >= 1, or null for all") }
        try check(checkpoint.every >= 1, "checkpoint.every", checkpoint.every, "an integer >= 1")
    }
}
