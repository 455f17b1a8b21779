import ConstitutionalAI
import Engine
import Federation
import Foundation

// Codable for the run configuration: snake_case keys, every key optional on decode (missing
// keys take the defaults), optionals encoded as explicit nulls so a written configuration shows
// every key.

extension RunConfiguration {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case model, initialAdapter = "initial_adapter", seed, threads, clients, clientsPerRound = "clients_per_round", rounds
        case minReplies = "min_replies", updateNormBound = "update_norm_bound"
        case learningRate = "learning_rate", learningRateFloor = "learning_rate_floor"
        case data, local, lora, strategy, policies, filter, safetyScreen = "safety_screen", adversaries, cai, evaluation, checkpoint
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = RunConfiguration()
        model = try c.decodeIfPresent(String.self, forKey: .model)
        initialAdapter = try c.decodeIfPresent(String.self, forKey: .initialAdapter)
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? d.seed
        threads = try c.decodeIfPresent(Int.self, forKey: .threads)
        clients = try c.decodeIfPresent(Int.self, forKey: .clients) ?? d.clients
        clientsPerRound = try c.decodeIfPresent(Int.self, forKey: .clientsPerRound) ?? d.clientsPerRound
        rounds = try c.decodeIfPresent(Int.self, forKey: .rounds) ?? d.rounds
        minReplies = try c.decodeIfPresent(Int.self, forKey: .minReplies) ?? d.minReplies
        updateNormBound = try c.decodeIfPresent(Double.self, forKey: .updateNormBound)
        learningRate = try c.decodeIfPresent(Double.self, forKey: .learningRate) ?? d.learningRate
        learningRateFloor = try c.decodeIfPresent(Double.self, forKey: .learningRateFloor) ?? d.learningRateFloor
        data = try c.decodeIfPresent(DataSettings.self, forKey: .data) ?? d.data
        local = try c.decodeIfPresent(LocalSettings.self, forKey: .local) ?? d.local
        lora = try c.decodeIfPresent(LoRASettings.self, forKey: .lora) ?? d.lora
        do {
            strategy = try c.decodeIfPresent(StrategyConfiguration.self, forKey: .strategy) ?? d.strategy
        } catch let error as FederationError {
            throw ConfigurationError(federation: error, section: "strategy")
        }
        do {
            policies = try c.decodeIfPresent([PolicyConfiguration].self, forKey: .policies) ?? d.policies
        } catch let error as FederationError {
            throw ConfigurationError(federation: error, section: "policies")
        }
        filter = try c.decodeIfPresent(FilterSettings.self, forKey: .filter) ?? d.filter
        safetyScreen = try c.decodeIfPresent(SafetyScreenSettings.self, forKey: .safetyScreen) ?? d.safetyScreen
        adversaries = try c.decodeIfPresent([AdversarySettings].self, forKey: .adversaries) ?? d.adversaries
        cai = try c.decodeIfPresent(CAISettings.self, forKey: .cai) ?? d.cai
        evaluation = try c.decodeIfPresent(EvaluationSettings.self, forKey: .evaluation) ?? d.evaluation
        checkpoint = try c.decodeIfPresent(CheckpointSettings.self, forKey: .checkpoint) ?? d.checkpoint
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(model, forKey: .model)
        try c.encode(initialAdapter, forKey: .initialAdapter)
        try c.encode(seed, forKey: .seed)
        try c.encode(threads, forKey: .threads)
        try c.encode(clients, forKey: .clients)
        try c.encode(clientsPerRound, forKey: .clientsPerRound)
        try c.encode(rounds, forKey: .rounds)
        try c.encode(minReplies, forKey: .minReplies)
        try c.encode(updateNormBound, forKey: .updateNormBound)
        try c.encode(learningRate, forKey: .learningRate)
        try c.encode(learningRateFloor, forKey: .learningRateFloor)
        try c.encode(data, forKey: .data)
        try c.encode(local, forKey: .local)
        try c.encode(lora, forKey: .lora)
        try c.encode(strategy, forKey: .strategy)
        try c.encode(policies, forKey: .policies)
        try c.encode(filter, forKey: .filter)
        try c.encode(safetyScreen, forKey: .safetyScreen)
        try c.encode(adversaries, forKey: .adversaries)
        try c.encode(cai, forKey: .cai)
        try c.encode(evaluation, forKey: .evaluation)
        try c.encode(checkpoint, forKey: .checkpoint)
    }
}

extension RunConfiguration.DataSettings {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case directory, maxSequenceLength = "max_sequence_length", build
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = Self()
        directory = try c.decodeIfPresent(String.self, forKey: .directory) ?? d.directory
        maxSequenceLength = try c.decodeIfPresent(Int.self, forKey: .maxSequenceLength) ?? d.maxSequenceLength
        build = try c.decodeIfPresent(BuildSettings.self, forKey: .build) ?? d.build
    }
}

extension RunConfiguration.DataSettings.BuildSettings {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case harmfulFraction = "harmful_fraction", samplesPerClient = "samples_per_client", partition
        case dirichletAlpha = "dirichlet_alpha"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = Self()
        harmfulFraction = try c.decodeIfPresent(Double.self, forKey: .harmfulFraction) ?? d.harmfulFraction
        samplesPerClient = try c.decodeIfPresent(Int.self, forKey: .samplesPerClient) ?? d.samplesPerClient
        partition = try c.decodeIfPresent(String.self, forKey: .partition) ?? d.partition
        dirichletAlpha = try c.decodeIfPresent(Double.self, forKey: .dirichletAlpha) ?? d.dirichletAlpha
    }
}

extension RunConfiguration.LocalSettings {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case steps, epochs, tokensPerBatch = "tokens_per_batch", gradientAccumulation = "gradient_accumulation"
        case maxGradientNorm = "max_gradient_norm", weightDecay = "weight_decay"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = Self()
        // An explicit `steps: null` means "use epochs"; an absent key takes the default.
        steps = c.contains(.steps) ? try c.decodeIfPresent(Int.self, forKey: .steps) : d.steps
        epochs = try c.decodeIfPresent(Int.self, forKey: .epochs) ?? d.epochs
        tokensPerBatch = try c.decodeIfPresent(Int.self, forKey: .tokensPerBatch) ?? d.tokensPerBatch
        gradientAccumulation = try c.decodeIfPresent(Int.self, forKey: .gradientAccumulation) ?? d.gradientAccumulation
        maxGradientNorm = c.contains(.maxGradientNorm)
            ? try c.decodeIfPresent(Double.self, forKey: .maxGradientNorm) : d.maxGradientNorm
        weightDecay = try c.decodeIfPresent(Double.self, forKey: .weightDecay) ?? d.weightDecay
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(steps, forKey: .steps)
        try c.encode(epochs, forKey: .epochs)
        try c.encode(tokensPerBatch, forKey: .tokensPerBatch)
        try c.encode(gradientAccumulation, forKey: .gradientAccumulation)
        try c.encode(maxGradientNorm, forKey: .maxGradientNorm)
        try c.encode(weightDecay, forKey: .weightDecay)
    }
}

extension RunConfiguration.LoRASettings {
    enum CodingKeys: String, CodingKey, CaseIterable { case rank, alpha, dropout, targets }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = Self()
        rank = try c.decodeIfPresent(Int.self, forKey: .rank) ?? d.rank
        alpha = try c.decodeIfPresent(Double.self, forKey: .alpha) ?? d.alpha
        dropout = try c.decodeIfPresent(Double.self, forKey: .dropout) ?? d.dropout
        if let names = try c.decodeIfPresent([String].self, forKey: .targets) {
            targets = try names.map { name in
                guard let projection = Projection(shortName: name) else {
                    throw ConfigurationError.invalidValue(
                        key: "lora.targets", value: name,
                        allowed: "q, k, v, o, gate, up, down (or q_proj, k_proj, ...)")
                }
                return projection
            }
        } else {
            targets = d.targets
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(rank, forKey: .rank)
        try c.encode(alpha, forKey: .alpha)
        try c.encode(dropout, forKey: .dropout)
        try c.encode(targets.map(\.rawValue), forKey: .targets)
    }
}

extension RunConfiguration.EvaluationSettings {
    enum CodingKeys: String, CodingKey, CaseIterable { case every, suite, limit }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = Self()
        every = try c.decodeIfPresent(Int.self, forKey: .every) ?? d.every
        suite = try c.decodeIfPresent(String.self, forKey: .suite) ?? d.suite
        limit = c.contains(.limit) ? try c.decodeIfPresent(Int.self, forKey: .limit) : d.limit
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(every, forKey: .every)
        try c.encode(suite, forKey: .suite)
        try c.encode(limit, forKey: .limit)
    }
}

extension RunConfiguration.FilterSettings {
    enum CodingKeys: String, CodingKey, CaseIterable { case kind, threshold, judge, encoder, batchSize = "batch_size" }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = Self()
        kind = try c.decodeIfPresent(String.self, forKey: .kind) ?? d.kind
        threshold = try c.decodeIfPresent(Double.self, forKey: .threshold)
        judge = try c.decodeIfPresent(String.self, forKey: .judge)
        encoder = try c.decodeIfPresent(String.self, forKey: .encoder)
        batchSize = try c.decodeIfPresent(Int.self, forKey: .batchSize) ?? d.batchSize
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind, forKey: .kind)
        try c.encode(threshold, forKey: .threshold)
        try c.encode(judge, forKey: .judge)
        try c.encode(self.encoder, forKey: .encoder)
        try c.encode(batchSize, forKey: .batchSize)
    }
}

extension RunConfiguration.SafetyScreenSettings {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case enabled, canaries, maxShift = "max_shift", relativeShift = "relative_shift", minShift = "min_shift"
        case responseWords = "response_words"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = Self()
        enabled = try c.decodeIfPresent(Bool.self, forKey: .enabled) ?? d.enabled
        canaries = try c.decodeIfPresent(Int.self, forKey: .canaries) ?? d.canaries
        maxShift = try c.decodeIfPresent(Double.self, forKey: .maxShift) ?? d.maxShift
        // An explicit `relative_shift: null` turns the rule off; an absent key takes the default.
        relativeShift = c.contains(.relativeShift) ? try c.decodeIfPresent(Double.self, forKey: .relativeShift) : d.relativeShift
        minShift = try c.decodeIfPresent(Double.self, forKey: .minShift) ?? d.minShift
        responseWords = try c.decodeIfPresent(Int.self, forKey: .responseWords) ?? d.responseWords
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(enabled, forKey: .enabled)
        try c.encode(canaries, forKey: .canaries)
        try c.encode(maxShift, forKey: .maxShift)
        try c.encode(relativeShift, forKey: .relativeShift)
        try c.encode(minShift, forKey: .minShift)
        try c.encode(responseWords, forKey: .responseWords)
    }
}

extension RunConfiguration.CheckpointSettings {
    enum CodingKeys: String, CodingKey, CaseIterable { case every }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        every = try c.decodeIfPresent(Int.self, forKey: .every) ?? Self().every
    }
}
