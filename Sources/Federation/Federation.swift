/// Namespace for the federated-learning core.
///
/// The module is model-independent: an update is a ``TensorMap`` (named float tensors, e.g. a
/// LoRA adapter). A ``Strategy`` configures a round and aggregates ``ClientReply`` values into an
/// ``AggregationOutcome``; policies (``ScreenedStrategy``, ``ClippedStrategy``,
/// ``MedianStrategy``, ``TrimmedMeanStrategy``, ``KrumStrategy``, ``DPFedAvgStrategy``) wrap any
/// strategy. Randomness (client sampling, partitioning, DP noise) always derives from an explicit
/// seed through ``SeedDerivation``; there is no global generator.
///
/// A typical round, written once by the runner:
/// ```swift
/// var strategy = ScreenedStrategy(base: FedAvg(), screen: ReplyScreen(minimumReplies: 2))
/// let clients = try ClientSampler(population: 10, mode: .fixedCount(3), seed: 7).sample(round: 1)
/// let plan = strategy.configure(round: 1, global: global)        // sent to each client
/// let outcome = try strategy.aggregate(global: global, replies: replies, round: 1)
/// global = outcome.global                                       // previous global if kept
/// ```
public enum Federation {}
