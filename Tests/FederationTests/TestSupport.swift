import Federation
import Testing

/// A map with tensors "a" (shape [n−1]) and "b" (shape [1]) holding `values`; n = values.count.
func vector(_ values: [Float]) throws -> TensorMap {
    try TensorMap([("a", [values.count - 1], Array(values.dropLast())), ("b", [1], [values[values.count - 1]])])
}

/// A reply with the given parameters and example count.
func reply(_ id: Int, _ values: [Float], examples: Int = 1, metrics: [String: Double] = [:]) throws -> ClientReply {
    ClientReply(clientID: id, parameters: try vector(values), exampleCount: examples, metrics: metrics)
}

/// The `FederationError` thrown by `body`, or nil.
func federationError(_ body: () throws -> Void) -> FederationError? {
    do {
        try body()
        return nil
    } catch let error as FederationError {
        return error
    } catch {
        return nil
    }
}

/// Elementwise closeness with absolute tolerance.
func isClose(_ actual: [Float], _ expected: [Double], tolerance: Double = 1e-6) -> Bool {
    actual.count == expected.count && zip(actual, expected).allSatisfy { abs(Double($0) - $1) <= tolerance }
}
