/// Errors thrown by the federated core. Each case carries what went wrong, where, and the value seen.
public enum FederationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Two tensor maps disagree in names, order or shapes (`operation` names the caller).
    case layoutMismatch(operation: String, detail: String)
    /// A tensor's shape does not match its number of values.
    case invalidShape(name: String, shape: [Int], valueCount: Int)
    /// The same tensor name appears twice in one map.
    case duplicateTensorName(String)
    /// An operation needs at least one input (`operation` names it).
    case emptyInput(operation: String)
    /// A configuration value is out of range; `allowed` describes the valid values.
    case invalidParameter(key: String, value: String, allowed: String)
    /// A name (strategy, policy, ...) is not registered; `allowed` lists the registered names.
    case unknownName(key: String, value: String, allowed: [String])
    /// A partition request cannot be satisfied (e.g. more harmful items wanted than exist).
    case partitionImpossible(String)
    /// A restored strategy state does not fit the strategy (e.g. wrong tensor layout).
    case stateMismatch(String)

    public var description: String {
        switch self {
        case let .layoutMismatch(operation, detail):
            return "\(operation): tensor layouts differ (\(detail))"
        case let .invalidShape(name, shape, valueCount):
            return "tensor '\(name)': shape \(shape) does not hold \(valueCount) values"
        case let .duplicateTensorName(name):
            return "tensor name '\(name)' appears more than once"
        case let .emptyInput(operation):
            return "\(operation): needs at least one input"
        case let .invalidParameter(key, value, allowed):
            return "'\(key)' = \(value) is invalid; allowed: \(allowed)"
        case let .unknownName(key, value, allowed):
            return "'\(key)' = '\(value)' is unknown; allowed: \(allowed.joined(separator: ", "))"
        case let .partitionImpossible(reason):
            return "impossible partition: \(reason)"
        case let .stateMismatch(reason):
            return "strategy state does not fit: \(reason)"
        }
    }
}

/// Checks a configuration value and throws ``FederationError/invalidParameter(key:value:allowed:)``.
@inline(__always)
func require(_ condition: Bool, key: String, value: some CustomStringConvertible, allowed: String) throws {
    if !condition {
        throw FederationError.invalidParameter(key: key, value: value.description, allowed: allowed)
    }
}
