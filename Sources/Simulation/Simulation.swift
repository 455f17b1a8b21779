/// Namespace for the federated simulation.
///
/// A run: ``RunConfiguration`` (YAML, validated) → ``FederatedRun`` (the round loop, written
/// once: sample clients, local training through a ``ClientTrainer``, screened aggregation by the
/// configured strategy, server and evaluation hooks) → a run directory (``RunDirectory``) with the
/// resolved configuration, per-round records, the global adapter of every round and a resumable
/// checkpoint.
public enum Simulation {}

/// Errors of a simulation run; each says what failed, where, and what to do.
public enum SimulationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A file or directory cannot be read or written.
    case io(path: String, detail: String)
    /// Client data is missing or unusable.
    case data(String)
    /// A run directory or checkpoint is not what this version writes.
    case runDirectory(path: String, detail: String)
    /// A hook failed (its name and message).
    case hook(name: String, detail: String)
    /// The model does not fit the configuration (e.g. no chat template for SFT data).
    case model(String)

    public var description: String {
        switch self {
        case let .io(path, detail): return "\(path): \(detail)"
        case let .data(detail): return detail
        case let .runDirectory(path, detail): return "run directory \(path): \(detail)"
        case let .hook(name, detail): return "hook '\(name)' failed: \(detail)"
        case let .model(detail): return detail
        }
    }
}
