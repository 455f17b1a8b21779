import Foundation
import Federation
import Testing

@Suite struct TensorMapTests {
    @Test func arithmeticHelpers() throws {
        // Prepare
        let x = try vector([1, 2, 2]), y = try vector([0.5, -1, 4])
        // Execute / Assert
        #expect(try x.adding(y).values == [1.5, 1, 6])
        #expect(try x.subtracting(y).values == [0.5, 3, -2])
        #expect(x.scaled(by: 2).values == [2, 4, 4])
        #expect(try x.dot(y) == 0.5 - 2 + 8)
        #expect(x.l2Norm == 3)
        #expect(try x.squaredDistance(to: y) == 0.25 + 9 + 4)
        #expect(x.flattened() == [1, 2, 2])
        #expect(x.names == ["a", "b"])
        #expect(x.values(named: "a").map(Array.init) == [1, 2])
        #expect(x.shape(named: "b") == [1])
    }

    @Test func layoutMismatchThrowsTypedError() throws {
        let x = try vector([1, 2, 3])
        let other = try TensorMap([("a", [2], [1, 2]), ("c", [1], [3])])
        let error = federationError { _ = try x.adding(other) }
        #expect(error == .layoutMismatch(operation: "add", detail: "unexpected tensor 'c'"))
    }

    @Test func invalidConstructionThrows() {
        #expect(federationError { _ = try TensorMap([("a", [2, 2], [1, 2, 3])]) }
            == .invalidShape(name: "a", shape: [2, 2], valueCount: 3))
        #expect(federationError { _ = try TensorMap([("a", [1], [1]), ("a", [1], [2])]) }
            == .duplicateTensorName("a"))
    }

    @Test func firstNonFiniteNamesTensorAndIndex() throws {
        let map = try TensorMap([("a", [2], [1, 2]), ("b", [3], [0, .infinity, .nan])])
        let bad = try #require(map.firstNonFinite)
        #expect(bad.name == "b" && bad.index == 1)
    }

    @Test func codableRoundTripIsBitIdentical() throws {
        // Prepare: values without short decimal forms
        let map = try TensorMap([("w", [2, 2], [0.1, -1e-7, 3.4028235e38, Float(1) / 3])])
        // Execute
        let decoded = try JSONDecoder().decode(TensorMap.self, from: try JSONEncoder().encode(map))
        // Assert
        #expect(decoded.values.map(\.bitPattern) == map.values.map(\.bitPattern))
        #expect(decoded == map)
    }
}
