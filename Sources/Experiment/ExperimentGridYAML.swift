import ConstitutionalAI
import Foundation
import Simulation
import Yams

// Reading a grid: the preset's YAML, the file's keys merged over it, then checks that name the key.

extension ExperimentGrid {
    /// The grid of `preset` with `yaml` (a grid file's text; empty: none) merged over it.
    public static func load(yaml: String = "", preset: ExperimentPreset = .smoke) throws(ExperimentGridError) -> ExperimentGrid {
        var root = try parse(preset.yaml, source: "preset \(preset.rawValue)")
        let file = try parse(yaml, source: "grid file")
        root = merge(file, over: root)
        return try decode(root)
    }

    /// A complete grid as ``yaml()`` writes it (an experiment's `grid.yaml`), with no preset under it.
    public static func load(resolvedYAML yaml: String) throws(ExperimentGridError) -> ExperimentGrid {
        try decode(try parse(yaml, source: "grid.yaml"))
    }

    /// Reads a grid file (see ``load(yaml:preset:)``).
    public static func load(file: URL, preset: ExperimentPreset = .smoke) throws -> ExperimentGrid {
        let text: String
        do { text = try String(contentsOf: file, encoding: .utf8) } catch {
            throw ExperimentGridError(key: "(file)", detail: "cannot read \(file.path): \(error.localizedDescription)")
        }
        return try load(yaml: text, preset: preset)
    }

    /// The grid as YAML that ``load(yaml:preset:)`` reads back to an equal grid (whatever the preset).
    public func yaml() throws -> String {
        var mapping = Node.Mapping([])
        let baseNode = (try? Yams.compose(yaml: base)) ?? nil
        mapping["base"] = baseNode ?? Node([(Node, Node)]())
        mapping["methods"] = Node(methods.map { Node($0.rawValue) })
        mapping["strategies"] = Node(strategies.map { s -> Node in
            guard s.strategy != s.label || !s.overrides.isEmpty else { return Node(s.label) }
            var entry = Node.Mapping([])
            entry["label"] = Node(s.label)
            entry["strategy"] = Node(s.strategy)
            entry["set"] = Node(s.overrides.map { Node($0) })
            return .mapping(entry)
        })
        mapping["harmful_fractions"] = Node(harmfulFractions.map { Node(String($0), Tag(.float)) })
        mapping["seeds"] = Node(seeds.map { Node(String($0), Tag(.int)) })
        mapping["starts"] = Node(starts.map { Node($0.rawValue) })
        mapping["references"] = Node(references.map { Node($0.rawValue) })
        mapping["filter_kind"] = Node(filterKind)
        mapping["cai_mode"] = Node(caiMode.rawValue)
        mapping["aligned_steps"] = Node(String(alignedSteps), Tag(.int))
        mapping["aligned_adapter"] = alignedAdapter.map { Node($0) } ?? Node("null", Tag(.null))
        var e = Node.Mapping([])
        e["suites"] = Node(evaluation.suites.map { Node($0) })
        e["limit"] = evaluation.limit.map { Node(String($0), Tag(.int)) } ?? Node("null", Tag(.null))
        e["max_tokens"] = Node(String(evaluation.maxTokens), Tag(.int))
        e["helpfulness_prompts"] = Node(String(evaluation.helpfulnessPrompts), Tag(.int))
        e["arithmetic"] = Node(evaluation.arithmetic)
        mapping["evaluation"] = .mapping(e)
        do { return try Yams.serialize(node: .mapping(mapping)) } catch {
            throw ExperimentGridError(key: "(top level)", detail: "cannot write the grid: \(error)")
        }
    }

    static let keys = ["base", "methods", "strategies", "harmful_fractions", "seeds", "starts", "references", "filter_kind",
                       "cai_mode", "aligned_steps", "aligned_adapter", "evaluation"]
    static let evaluationKeys = ["suites", "limit", "max_tokens", "helpfulness_prompts", "arithmetic"]

    static func parse(_ text: String, source: String) throws(ExperimentGridError) -> Node {
        let node: Node?
        do { node = try Yams.compose(yaml: text) } catch {
            throw ExperimentGridError(key: "(top level)", detail: "malformed YAML in the \(source): \(error)")
        }
        guard let node else { return Node([(Node, Node)]()) }
        guard node.mapping != nil else {
            throw ExperimentGridError(key: "(top level)", detail: "the \(source) must be a mapping of keys to values")
        }
        return node
    }

    /// `top` over `bottom`: mappings merge key by key (recursively), anything else replaces.
    static func merge(_ top: Node, over bottom: Node) -> Node {
        guard let topMapping = top.mapping, var merged = bottom.mapping else { return top }
        for (key, value) in topMapping {
            if let existing = merged[key] { merged[key] = merge(value, over: existing) } else { merged[key] = value }
        }
        return .mapping(merged)
    }

    static func decode(_ root: Node) throws(ExperimentGridError) -> ExperimentGrid {
        let mapping = root.mapping ?? Node.Mapping([])
        for key in mapping.keys {
            let name = key.string ?? "\(key)"
            guard keys.contains(name) else {
                throw ExperimentGridError(key: name, detail: "unknown key; a grid takes \(keys.joined(separator: ", "))")
            }
        }
        var grid = ExperimentGrid(base: "")
        if let base = mapping["base"] {
            guard base.mapping != nil || base.null != nil else {
                throw ExperimentGridError(key: "base", detail: "a run configuration (a mapping of `fedguard config show` keys)")
            }
            do { grid.base = base.null != nil ? "" : try Yams.serialize(node: base) } catch {
                throw ExperimentGridError(key: "base", detail: "\(error)")
            }
        }
        grid.methods = try list(mapping, "methods", "methods: none, filter, cai, filter+cai") { ExperimentMethod(rawValue: $0) }
        grid.strategies = try strategies(mapping)
        grid.harmfulFractions = try list(mapping, "harmful_fractions", "numbers in [0, 1]") { text -> Double? in
            guard let x = Double(text), x >= 0, x <= 1 else { return nil }
            return x
        }
        grid.seeds = try list(mapping, "seeds", "non-negative integers") { UInt64($0) }
        grid.starts = try list(mapping, "starts", "base, aligned") { ExperimentStart(rawValue: $0) }
        if let node = mapping["references"] {
            // true and false are shorthands for every reference row and none.
            if let flag = node.bool {
                grid.references = flag ? ExperimentReference.allCases : []
            } else if case let .sequence(items) = node, items.isEmpty {
                grid.references = []
            } else {
                grid.references = try list(mapping, "references", "start, centralised (or true, false)") { ExperimentReference(rawValue: $0) }
            }
        }
        grid.filterKind = try scalar(mapping, "filter_kind", "embedding, guard or both") {
            ["embedding", "guard", "both"].contains($0) ? $0 : nil
        } ?? grid.filterKind
        grid.caiMode = try scalar(mapping, "cai_mode", "cheap or full") { $0 == "off" ? nil : CAIMode(rawValue: $0) } ?? grid.caiMode
        grid.alignedSteps = try scalar(mapping, "aligned_steps", "an integer >= 1") { Int($0).flatMap { $0 >= 1 ? $0 : nil } }
            ?? grid.alignedSteps
        grid.alignedAdapter = try scalar(mapping, "aligned_adapter", "a PEFT adapter directory, or null") { $0 }
        if let node = mapping["evaluation"] {
            guard let e = node.mapping else {
                throw ExperimentGridError(key: "evaluation", detail: "a mapping with \(evaluationKeys.joined(separator: ", "))")
            }
            for key in e.keys where !evaluationKeys.contains(key.string ?? "") {
                throw ExperimentGridError(key: "evaluation.\(key.string ?? "\(key)")",
                                          detail: "unknown key; evaluation takes \(evaluationKeys.joined(separator: ", "))")
            }
            var evaluation = ExperimentEvaluation()
            evaluation.suites = try list(e, "suites", ExperimentEvaluation.suiteNames.joined(separator: ", "), prefix: "evaluation.") {
                ExperimentEvaluation.suiteNames.contains($0) ? $0 : nil
            }
            evaluation.limit = try scalar(e, "limit", "an integer >= 1, or null for whole suites", prefix: "evaluation.") {
                Int($0).flatMap { $0 >= 1 ? $0 : nil }
            }
            evaluation.maxTokens = try scalar(e, "max_tokens", "an integer >= 1", prefix: "evaluation.") {
                Int($0).flatMap { $0 >= 1 ? $0 : nil }
            } ?? evaluation.maxTokens
            evaluation.helpfulnessPrompts = try scalar(e, "helpfulness_prompts", "an integer >= 1", prefix: "evaluation.") {
                Int($0).flatMap { $0 >= 1 ? $0 : nil }
            } ?? evaluation.helpfulnessPrompts
            evaluation.arithmetic = try scalar(e, "arithmetic", "exact or int8", prefix: "evaluation.") {
                ["exact", "int8"].contains($0) ? $0 : nil
            } ?? evaluation.arithmetic
            grid.evaluation = evaluation
        }
        return grid
    }

    /// The strategy axis: names, or mappings {label, strategy, set: [key=value, ...]}.
    static func strategies(_ mapping: Node.Mapping) throws(ExperimentGridError) -> [ExperimentStrategy] {
        let takes = "strategy names such as fedavg, fedprox, scaffold, or {label: L, strategy: S, set: [key=value, ...]}"
        guard let node = mapping["strategies"] else { throw ExperimentGridError(key: "strategies", detail: "missing; takes \(takes)") }
        let items: [Node]
        switch node {
        case let .sequence(sequence): items = Array(sequence)
        case .scalar: items = [node]
        default: throw ExperimentGridError(key: "strategies", detail: "takes a list of \(takes)")
        }
        var values: [ExperimentStrategy] = []
        for item in items {
            var value: ExperimentStrategy
            if let name = item.string {
                value = ExperimentStrategy(label: name)
            } else if let entry = item.mapping {
                for key in entry.keys where !["label", "strategy", "set"].contains(key.string ?? "") {
                    throw ExperimentGridError(key: "strategies", detail: "unknown key '\(key.string ?? "\(key)")' in an entry; takes \(takes)")
                }
                guard let label = entry["label"]?.string else {
                    throw ExperimentGridError(key: "strategies", detail: "an entry needs a label; takes \(takes)")
                }
                let overrides = entry["set"].map { node -> [String] in
                    if case let .sequence(s) = node { return s.compactMap(\.string) }
                    return node.string.map { [$0] } ?? []
                } ?? []
                value = ExperimentStrategy(label: label, strategy: entry["strategy"]?.string, overrides: overrides)
            } else {
                throw ExperimentGridError(key: "strategies", detail: "takes \(takes)")
            }
            guard value.hasValidLabel else {
                throw ExperimentGridError(key: "strategies", detail: "'\(value.label)' cannot name cells: use letters, digits, +, -, _ or .")
            }
            guard !values.contains(where: { $0.label == value.label }) else {
                throw ExperimentGridError(key: "strategies", detail: "'\(value.label)' is listed twice")
            }
            values.append(value)
        }
        guard !values.isEmpty else { throw ExperimentGridError(key: "strategies", detail: "must not be empty; takes \(takes)") }
        return values
    }

    /// A non-empty list without repeats whose every entry `convert` accepts.
    static func list<T: Equatable>(_ mapping: Node.Mapping, _ key: String, _ takes: String, prefix: String = "",
                                   _ convert: (String) -> T?) throws(ExperimentGridError) -> [T] {
        let fullKey = prefix + key
        guard let node = mapping[key] else {
            throw ExperimentGridError(key: fullKey, detail: "missing; takes a list of \(takes)")
        }
        let items: [Node]
        switch node {
        case let .sequence(sequence): items = Array(sequence)
        case .scalar: items = [node]
        default: throw ExperimentGridError(key: fullKey, detail: "takes a list of \(takes)")
        }
        var values: [T] = []
        for item in items {
            guard let text = item.string, let value = convert(text) else {
                throw ExperimentGridError(key: fullKey, detail: "'\(item.string ?? "\(item)")' is not allowed; takes \(takes)")
            }
            guard !values.contains(value) else { throw ExperimentGridError(key: fullKey, detail: "'\(text)' is listed twice") }
            values.append(value)
        }
        guard !values.isEmpty else { throw ExperimentGridError(key: fullKey, detail: "must not be empty; takes \(takes)") }
        return values
    }

    /// A scalar `convert` accepts, nil when the key is absent or null.
    static func scalar<T>(_ mapping: Node.Mapping, _ key: String, _ takes: String, prefix: String = "",
                          _ convert: (String) -> T?) throws(ExperimentGridError) -> T? {
        guard let node = mapping[key], node.null == nil else { return nil }
        guard let text = node.string, let value = convert(text) else {
            throw ExperimentGridError(key: prefix + key, detail: "'\(node.string ?? "\(node)")' is not allowed; takes \(takes)")
        }
        return value
    }
}
