/// The ordered names and shapes of a ``TensorMap``, without its values.
///
/// Two maps can be combined arithmetically only when their layouts are equal: same names, same
/// order, same shapes.
public struct TensorLayout: Sendable, Equatable, Hashable, Codable {
    /// One named tensor: its name and its row-major shape (PyTorch order).
    public struct Entry: Sendable, Equatable, Hashable, Codable {
        /// The tensor's name, e.g. `model.layers.0.self_attn.q_proj.lora_A.weight`.
        public let name: String
        /// The tensor's shape; the element count is the product (an empty shape is a scalar).
        public let shape: [Int]
        /// Number of elements (product of the shape).
        public var elementCount: Int { shape.reduce(1, *) }

        /// Creates an entry.
        public init(name: String, shape: [Int]) {
            self.name = name
            self.shape = shape
        }
    }

    /// The tensors, in order.
    public let entries: [Entry]
    /// Start of each tensor in the flat value array; `offsets.count == entries.count + 1`.
    public let offsets: [Int]

    /// Creates a layout; throws on duplicate names or negative dimensions.
    public init(_ entries: [Entry]) throws {
        var seen = Set<String>()
        var offsets = [0]
        offsets.reserveCapacity(entries.count + 1)
        for entry in entries {
            guard seen.insert(entry.name).inserted else {
                throw FederationError.duplicateTensorName(entry.name)
            }
            guard entry.shape.allSatisfy({ $0 >= 0 }) else {
                throw FederationError.invalidShape(name: entry.name, shape: entry.shape, valueCount: -1)
            }
            offsets.append(offsets[offsets.count - 1] + entry.elementCount)
        }
        self.entries = entries
        self.offsets = offsets
    }

    /// Total number of scalar elements.
    public var elementCount: Int { offsets[offsets.count - 1] }

    /// A human-readable description of the first difference to `other`, or nil when equal.
    public func firstDifference(from other: TensorLayout) -> String? {
        if self == other { return nil }
        let mine = Dictionary(uniqueKeysWithValues: entries.map { ($0.name, $0.shape) })
        let theirs = Dictionary(uniqueKeysWithValues: other.entries.map { ($0.name, $0.shape) })
        for entry in other.entries where mine[entry.name] == nil {
            return "unexpected tensor '\(entry.name)'"
        }
        for entry in entries {
            guard let shape = theirs[entry.name] else { return "missing tensor '\(entry.name)'" }
            if shape != entry.shape {
                return "tensor '\(entry.name)' has shape \(shape), expected \(entry.shape)"
            }
        }
        return "tensor order differs"
    }

    private enum CodingKeys: String, CodingKey { case entries }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(try container.decode([Entry].self, forKey: .entries))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(entries, forKey: .entries)
    }
}

/// An ordered map from tensor names to float32 tensors: the unit of exchange between server and
/// clients (a LoRA adapter, a control variate, an optimiser moment).
///
/// Values are stored flat, tensor after tensor, each row-major. Arithmetic requires equal
/// layouts and throws ``FederationError/layoutMismatch(operation:detail:)`` otherwise. Reductions
/// (`dot`, `l2Norm`) accumulate in Double.
public struct TensorMap: Sendable, Equatable, Codable {
    /// Names and shapes.
    public let layout: TensorLayout
    /// All values, tensor after tensor (`values.count == layout.elementCount`).
    public private(set) var values: [Float]

    /// Creates a map from named tensors; throws if a shape does not match its value count or a
    /// name repeats.
    public init(_ tensors: [(name: String, shape: [Int], values: [Float])]) throws {
        let layout = try TensorLayout(tensors.map { .init(name: $0.name, shape: $0.shape) })
        for tensor in tensors where tensor.shape.reduce(1, *) != tensor.values.count {
            throw FederationError.invalidShape(
                name: tensor.name, shape: tensor.shape, valueCount: tensor.values.count)
        }
        self.layout = layout
        self.values = tensors.flatMap(\.values)
    }

    /// Creates a map with the given layout and flat values; throws if the count differs.
    public init(layout: TensorLayout, values: [Float]) throws {
        guard values.count == layout.elementCount else {
            throw FederationError.layoutMismatch(
                operation: "TensorMap(layout:values:)",
                detail: "\(values.count) values for \(layout.elementCount) elements")
        }
        self.layout = layout
        self.values = values
    }

    /// Internal initializer for values already known to fit the layout.
    init(unchecked layout: TensorLayout, values: [Float]) {
        self.layout = layout
        self.values = values
    }

    /// A map of zeros with the layout of `other`.
    public static func zeros(like other: TensorMap) -> TensorMap {
        TensorMap(unchecked: other.layout, values: [Float](repeating: 0, count: other.values.count))
    }

    /// Tensor names in order.
    public var names: [String] { layout.entries.map(\.name) }
    /// Total number of scalar elements.
    public var elementCount: Int { values.count }
    /// Size in bytes when sent as float32 (the FlowerTune communication unit).
    public var float32ByteCount: Int { values.count * MemoryLayout<Float>.size }

    /// The values of one tensor, or nil if the name is absent.
    public func values(named name: String) -> ArraySlice<Float>? {
        guard let index = layout.entries.firstIndex(where: { $0.name == name }) else { return nil }
        return values[layout.offsets[index]..<layout.offsets[index + 1]]
    }

    /// The shape of one tensor, or nil if the name is absent.
    public func shape(named name: String) -> [Int]? {
        layout.entries.first(where: { $0.name == name })?.shape
    }

    /// The flat value array (tensor after tensor, row-major).
    public func flattened() -> [Float] { values }

    /// The first NaN or infinite value as (tensor name, index within that tensor), or nil.
    public var firstNonFinite: (name: String, index: Int)? {
        guard let flat = values.firstIndex(where: { !$0.isFinite }) else { return nil }
        // offsets is sorted; find the tensor holding `flat`.
        var tensor = 0
        while layout.offsets[tensor + 1] <= flat { tensor += 1 }
        return (layout.entries[tensor].name, flat - layout.offsets[tensor])
    }

    func checkLayout(_ other: TensorMap, _ operation: String) throws {
        if let difference = layout.firstDifference(from: other.layout) {
            throw FederationError.layoutMismatch(operation: operation, detail: difference)
        }
    }

    /// Elementwise `self + other`.
    public func adding(_ other: TensorMap) throws -> TensorMap {
        try checkLayout(other, "add")
        var out = values
        for i in out.indices { out[i] += other.values[i] }
        return TensorMap(unchecked: layout, values: out)
    }

    /// Elementwise `self - other`.
    public func subtracting(_ other: TensorMap) throws -> TensorMap {
        try checkLayout(other, "subtract")
        var out = values
        for i in out.indices { out[i] -= other.values[i] }
        return TensorMap(unchecked: layout, values: out)
    }

    /// `self * factor`, elementwise (the product is formed in Double, then rounded once).
    public func scaled(by factor: Double) -> TensorMap {
        TensorMap(unchecked: layout, values: values.map { Float(Double($0) * factor) })
    }

    /// `self + factor * other`, elementwise (formed in Double, rounded once).
    public func adding(_ other: TensorMap, scaledBy factor: Double) throws -> TensorMap {
        try checkLayout(other, "add scaled")
        var out = values
        for i in out.indices { out[i] = Float(Double(out[i]) + factor * Double(other.values[i])) }
        return TensorMap(unchecked: layout, values: out)
    }

    /// Applies `transform` to every value, keeping the layout.
    public func map(_ transform: (Float) -> Float) -> TensorMap {
        TensorMap(unchecked: layout, values: values.map(transform))
    }

    /// Inner product over all elements, accumulated in Double.
    public func dot(_ other: TensorMap) throws -> Double {
        try checkLayout(other, "dot")
        var sum = 0.0
        for i in values.indices { sum += Double(values[i]) * Double(other.values[i]) }
        return sum
    }

    /// Euclidean norm over all elements, accumulated in Double.
    public var l2Norm: Double {
        var sum = 0.0
        for v in values { sum += Double(v) * Double(v) }
        return sum.squareRoot()
    }

    /// Squared Euclidean distance to `other`, accumulated in Double.
    public func squaredDistance(to other: TensorMap) throws -> Double {
        try checkLayout(other, "distance")
        var sum = 0.0
        for i in values.indices {
            let d = Double(values[i]) - Double(other.values[i])
            sum += d * d
        }
        return sum
    }

    private enum CodingKeys: String, CodingKey { case layout, values }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(
            layout: try container.decode(TensorLayout.self, forKey: .layout),
            values: try container.decode([Float].self, forKey: .values))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(layout, forKey: .layout)
        try container.encode(values, forKey: .values)
    }
}
