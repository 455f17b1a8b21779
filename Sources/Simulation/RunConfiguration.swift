import ConstitutionalAI
import Engine
import Federation
import Foundation
import Training

/// Every setting of a federated simulation run, as written in a run's YAML file.
///
/// Keys are snake_case; every key is optional in YAML and takes the value of ``defaults``
/// (the tiny budget: SmolLM2, 4 clients, 2 per round, 2 rounds, 4 local steps of 512-token
/// batches, rank 8 on q and v), which finishes on a 2-core machine in minutes. Load files with
/// ``RunConfiguration/load(yaml:overrides:)``, which rejects unknown keys and validates ranges
/// with messages that name the key and the allowed values.
public struct RunConfiguration: Sendable, Equatable, Codable {
    /// The base model: a GGUF file or Hugging Face directory; nil means the default asset
    /// (SmolLM2-135M-Instruct, fetched on first use by the command-line tool).
    public var model: String?
    /// A PEFT adapter directory the global adapter starts from (e.g. a safety-aligned start made by
    /// standalone constitutional AI); nil starts from a fresh adapter drawn from ``seed``. Its rank
    /// and targets must match ``lora``.
    public var initialAdapter: String?
    /// The run's seed: every random choice (initial adapter, client sampling, data order,
    /// dropout, DP noise) derives from it.
    public var seed: UInt64
    /// Engine threads (nil: all cores). Resume with the same count for bit-identical results.
    public var threads: Int?
    /// N: the client population.
    public var clients: Int
    /// K: clients sampled per round (uniformly, without replacement, from (seed, round)).
    public var clientsPerRound: Int
    /// R: rounds.
    public var rounds: Int
    /// A round with fewer valid replies keeps the previous global adapter.
    public var minReplies: Int
    /// Replies whose update norm ‖local − global‖ exceeds this are rejected (nil: no bound).
    public var updateNormBound: Double?
    /// The learning rate of round 1's clients (the round-cosine schedule's start).
    public var learningRate: Double
    /// The rate the round-cosine schedule approaches at the last round (OpenFedLLM's `min_lr`).
    public var learningRateFloor: Double
    /// Client data.
    public var data: DataSettings
    /// Each client's local training.
    public var local: LocalSettings
    /// The adapter.
    public var lora: LoRASettings
    /// The aggregation algorithm and its parameters (``StrategyRegistry``).
    public var strategy: StrategyConfiguration
    /// Policies around the strategy, innermost first (``PolicyRegistry``); the run always adds
    /// a screen (``minReplies``, ``updateNormBound``) outermost.
    public var policies: [PolicyConfiguration]
    /// The client-side safety filter (applied to each client's data before local training).
    public var filter: FilterSettings
    /// The server-side safety screen of client updates (off by default).
    public var safetyScreen: SafetyScreenSettings
    /// Poisoned clients (simulation only; empty by default).
    public var adversaries: [AdversarySettings]
    /// Constitutional AI on the aggregated adapter (``CAISettings``; off by default).
    public var cai: CAISettings
    /// The evaluation hook's schedule.
    public var evaluation: EvaluationSettings
    /// Checkpointing.
    public var checkpoint: CheckpointSettings

    /// Client data: a directory of client JSONL files, built on demand when absent.
    public struct DataSettings: Sendable, Equatable, Codable {
        /// Directory holding `client-NNN.jsonl` (one file per client, chat records).
        public var directory: String
        /// Longest training sequence in tokens (longer ones are truncated); at most
        /// `local.tokens_per_batch`.
        public var maxSequenceLength: Int
        /// Settings for building the directory when it does not exist.
        public var build: BuildSettings

        /// How to build missing client data (the paper's setting scaled down).
        public struct BuildSettings: Sendable, Equatable, Codable {
            /// Fraction of each client's samples that comply with a harmful request, in [0, 1].
            public var harmfulFraction: Double
            /// Samples per client.
            public var samplesPerClient: Int
            /// `iid`, or a Dirichlet label skew with ``dirichletAlpha``.
            public var partition: String
            /// α of the Dirichlet partition.
            public var dirichletAlpha: Double

            public init(harmfulFraction: Double = 0.3, samplesPerClient: Int = 12, partition: String = "iid",
                        dirichletAlpha: Double = 0.5) {
                self.harmfulFraction = harmfulFraction
                self.samplesPerClient = samplesPerClient
                self.partition = partition
                self.dirichletAlpha = dirichletAlpha
            }
        }

        public init(directory: String = "fedguard-data/clients", maxSequenceLength: Int = 512,
                    build: BuildSettings = BuildSettings()) {
            self.directory = directory
            self.maxSequenceLength = maxSequenceLength
            self.build = build
        }
    }

    /// Local training of one client in one round (a fresh trainer each round, as OpenFedLLM).
    public struct LocalSettings: Sendable, Equatable, Codable {
        /// Optimizer steps per round (nil: `epochs` passes over the client's data).
        public var steps: Int?
        /// Passes over the client's data when `steps` is nil.
        public var epochs: Int
        /// Token budget of one packed micro-batch.
        public var tokensPerBatch: Int
        /// Micro-batches per optimizer step.
        public var gradientAccumulation: Int
        /// Global gradient-norm clip (nil: none).
        public var maxGradientNorm: Double?
        /// AdamW decoupled weight decay.
        public var weightDecay: Double

        public init(steps: Int? = 4, epochs: Int = 1, tokensPerBatch: Int = 512, gradientAccumulation: Int = 1,
                    maxGradientNorm: Double? = 1.0, weightDecay: Double = 0.0) {
            self.steps = steps
            self.epochs = epochs
            self.tokensPerBatch = tokensPerBatch
            self.gradientAccumulation = gradientAccumulation
            self.maxGradientNorm = maxGradientNorm
            self.weightDecay = weightDecay
        }
    }

    /// The LoRA adapter.
    public struct LoRASettings: Sendable, Equatable, Codable {
        /// Rank r.
        public var rank: Int
        /// Scale numerator (the update is scaled by alpha / r).
        public var alpha: Double
        /// Dropout on the adapter's input during training.
        public var dropout: Double
        /// Adapted projections (`q`, `k`, `v`, `o`, `gate`, `up`, `down`).
        public var targets: [Projection]

        public init(rank: Int = 8, alpha: Double = 16, dropout: Double = 0.05, targets: [Projection] = [.query, .value]) {
            self.rank = rank
            self.alpha = alpha
            self.dropout = dropout
            self.targets = targets
        }

        /// The Training module's configuration.
        public var configuration: LoRAConfiguration {
            LoRAConfiguration(rank: rank, alpha: Float(alpha), dropout: Float(dropout), targets: targets)
        }
    }

    /// The client-side safety filter: which judge, at which threshold.
    public struct FilterSettings: Sendable, Equatable, Codable {
        /// `none`, `embedding`, `guard` or `both` (the mean of the two).
        public var kind: String
        /// P(unsafe) at or above which a pair is removed; nil takes the threshold the judge chose
        /// on its validation split when it was trained.
        public var threshold: Double?
        /// The trained judge's directory; nil means `$FEDGUARD_HOME/filter/<kind>` (trained there
        /// on first use).
        public var judge: String?
        /// The embedding judge's sentence encoder (a sentence-transformers directory); nil means
        /// all-MiniLM-L6-v2 from the asset cache.
        public var encoder: String?
        /// Conversations judged together.
        public var batchSize: Int

        /// The kinds a configuration may name.
        public static let kinds = ["none", "embedding", "guard", "both"]

        public init(kind: String = "none", threshold: Double? = nil, judge: String? = nil, encoder: String? = nil,
                    batchSize: Int = 32) {
            self.kind = kind
            self.threshold = threshold
            self.judge = judge
            self.encoder = encoder
            self.batchSize = batchSize
        }

        /// Whether a filter runs.
        public var isEnabled: Bool { kind != "none" }
    }

    /// The server-side safety screen of client updates (``UpdateSafetyScreen``).
    public struct SafetyScreenSettings: Sendable, Equatable, Codable {
        /// Whether replies are screened.
        public var enabled: Bool
        /// Canaries scored per reply (a fixed draw from uncensorbench's harmful requests).
        public var canaries: Int
        /// Largest accepted rise of the compliance margin over the global adapter's, nats per token.
        /// Calibrated on a run the attack table does not use (seed 7; the table's runs use seed 42),
        /// from the safety-tuned start, 4 clients, 4 local steps, response openings of 12 words: the
        /// three honest replies (30% harmful data, filtered) shifted the margin by 0.042-0.057, the
        /// reply trained on harmful compliance only (filter skipped) by 0.168; 0.1 sits between,
        /// 1.75× above the largest honest shift and 1.7× below the attacker's.
        public var maxShift: Double
        /// A reply whose rise exceeds this many times the median rise of the round's other replies
        /// (and ``minShift``) is rejected as well (nil: no relative rule). An absolute bound cannot
        /// sit below the largest honest rise, which varies with the round; added after the attack
        /// table's first run, where one poisoned client's round-2 rise (0.081) stayed under
        /// ``maxShift`` while the honest ones were ≤ 0.026. The factor is set from the calibration
        /// run (seed 7): the poisoned reply rose 3.2× the others' median, honest ones ≤ 1.08×; 2.5
        /// sits between. Needs at least two scored replies.
        public var relativeShift: Double?
        /// Rises at or below this (nats per token) are never rejected by the relative rule: the
        /// ratio of two tiny rises says nothing. 0.04 is just below the smallest honest rise of the
        /// calibration round (0.042): only a rise as large as an honest one is judged relatively.
        public var minShift: Double
        /// Words of each canary response scored (its opening, where refusal and compliance differ
        /// most). Same calibration run: with 32 words the honest and poisoned shifts were 0.022-0.037
        /// and 0.059 (1.6× apart), with 12 words 3× apart, with 6 words 2.2× (noisier).
        public var responseWords: Int

        public init(enabled: Bool = false, canaries: Int = 16, maxShift: Double = 0.1, relativeShift: Double? = 2.5,
                    minShift: Double = 0.04, responseWords: Int = 12) {
            self.enabled = enabled
            self.canaries = canaries
            self.maxShift = maxShift
            self.relativeShift = relativeShift
            self.minShift = minShift
            self.responseWords = responseWords
        }
    }

    /// When and what the evaluation hook evaluates.
    public struct EvaluationSettings: Sendable, Equatable, Codable {
        /// Evaluate the global adapter every k rounds (and after the last); 0 turns it off.
        public var every: Int
        /// The evaluation suite the hook runs (e.g. `advbench`).
        public var suite: String
        /// Prompts per evaluation (nil: the whole suite).
        public var limit: Int?

        public init(every: Int = 1, suite: String = "advbench", limit: Int? = 20) {
            self.every = every
            self.suite = suite
            self.limit = limit
        }
    }

    /// Checkpointing.
    public struct CheckpointSettings: Sendable, Equatable, Codable {
        /// Write a resumable checkpoint every k rounds (and after the last).
        public var every: Int

        public init(every: Int = 1) { self.every = every }
    }

    /// The built-in defaults (see the type's documentation).
    public static let defaults = RunConfiguration()

    /// Creates a configuration; every argument defaults to the built-in value.
    public init(model: String? = nil, initialAdapter: String? = nil, seed: UInt64 = 42, threads: Int? = nil, clients: Int = 4, clientsPerRound: Int = 2,
                rounds: Int = 2, minReplies: Int = 1, updateNormBound: Double? = nil, learningRate: Double = 5e-4,
                learningRateFloor: Double = 1e-5, data: DataSettings = DataSettings(), local: LocalSettings = LocalSettings(),
                lora: LoRASettings = LoRASettings(), strategy: StrategyConfiguration = .fedAvg,
                policies: [PolicyConfiguration] = [], filter: FilterSettings = FilterSettings(),
                safetyScreen: SafetyScreenSettings = SafetyScreenSettings(), adversaries: [AdversarySettings] = [],
                cai: CAISettings = CAISettings(), evaluation: EvaluationSettings = EvaluationSettings(),
                checkpoint: CheckpointSettings = CheckpointSettings()) {
        self.model = model
        self.initialAdapter = initialAdapter
        self.seed = seed
        self.threads = threads
        self.clients = clients
        self.clientsPerRound = clientsPerRound
        self.rounds = rounds
        self.minReplies = minReplies
        self.updateNormBound = updateNormBound
        self.learningRate = learningRate
        self.learningRateFloor = learningRateFloor
        self.data = data
        self.local = local
        self.lora = lora
        self.strategy = strategy
        self.policies = policies
        self.filter = filter
        self.safetyScreen = safetyScreen
        self.adversaries = adversaries
        self.cai = cai
        self.evaluation = evaluation
        self.checkpoint = checkpoint
    }

    /// The round-cosine learning-rate schedule across rounds.
    public var roundSchedule: RoundCosineSchedule {
        RoundCosineSchedule(initial: learningRate, floor: learningRateFloor, totalRounds: rounds)
    }

    /// The learning rate of `round` (1-based): the schedule at `round − 1`, so round 1 uses
    /// `learning_rate` (OpenFedLLM's `cosine_learning_rate(round, ...)` with 0-based rounds).
    public func learningRate(round: Int) -> Double { roundSchedule.learningRate(round: round - 1) }
}
