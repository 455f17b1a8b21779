import CKernels
import Foundation

/// How a ``KVCache`` stores keys and values.
public enum KVPrecision: String, Sendable, Codable, CaseIterable {
    /// float32: exactly what the forward pass computed (the default, and what `Arithmetic.exact` uses).
    case float32
    /// IEEE half, rounded to nearest: half the memory and half the bytes decoding attention streams,
    /// as llama.cpp keeps its cache. `Arithmetic.int8` generation uses it.
    case float16

    /// Bytes per stored element.
    var bytes: Int { self == .float32 ? 4 : 2 }
}

/// Per-sequence key/value cache: for each layer, K and V head-major, (KVH, capacity, D), so that
/// decoding reads each kv head's keys and values as one contiguous run.
public final class KVCache: @unchecked Sendable {
    // @unchecked Sendable: a cache belongs to one sequence and is written by one forward pass at a time.

    /// Positions filled so far.
    public internal(set) var length = 0
    /// Positions the cache can hold.
    public private(set) var capacity: Int
    /// Key/value heads (KVH) and their size (D).
    public let heads: Int, headDimension: Int
    /// Element type of the stored keys and values.
    public let precision: KVPrecision
    /// K·V row width (KVH·D).
    public var width: Int { heads * headDimension }
    private var keys: [UnsafeMutableRawPointer]
    private var values: [UnsafeMutableRawPointer]

    init(layers: Int, capacity: Int, heads: Int, headDimension: Int, precision: KVPrecision = .float32) {
        self.capacity = max(capacity, 1)
        self.heads = heads
        self.headDimension = headDimension
        self.precision = precision
        let bytes = max(capacity, 1) * heads * headDimension * precision.bytes
        keys = (0..<layers).map { _ in Self.allocate(bytes) }
        values = (0..<layers).map { _ in Self.allocate(bytes) }
    }

    deinit {
        keys.forEach { $0.deallocate() }
        values.forEach { $0.deallocate() }
    }

    private static func allocate(_ bytes: Int) -> UnsafeMutableRawPointer {
        let p = UnsafeMutableRawPointer.allocate(byteCount: max(bytes, 1), alignment: 64)
        p.initializeMemory(as: UInt8.self, repeating: 0, count: max(bytes, 1))
        return p
    }

    /// Elements between kv head g and g + 1 in a layer's buffer.
    var headStride: Int { capacity * headDimension }

    /// Grows the cache so it holds at least `needed` positions (amortised doubling).
    func reserve(_ needed: Int) {
        guard needed > capacity else { return }
        let newCapacity = max(needed, capacity * 2)
        let rowBytes = headDimension * precision.bytes
        func grow(_ old: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer {
            let b = Self.allocate(newCapacity * heads * rowBytes)
            for g in 0..<heads {
                (b + g * newCapacity * rowBytes).copyMemory(from: old + g * capacity * rowBytes, byteCount: length * rowBytes)
            }
            old.deallocate()
            return b
        }
        keys = keys.map(grow)
        values = values.map(grow)
        capacity = newCapacity
    }

    /// Writes `rows` positions from `position` on in layer `layer`: k and v are (rows, KVH·D) row-major.
    func store(layer: Int, keys k: UnsafePointer<Float>, values v: UnsafePointer<Float>, rows: Int, at position: Int) {
        precondition(position + rows <= capacity, "cache write past its capacity")
        let D = headDimension, W = width, stride = headStride
        func scatter(_ source: UnsafePointer<Float>, into buffer: UnsafeMutableRawPointer) {
            for r in 0..<rows {
                for g in 0..<heads {
                    let offset = g * stride + (position + r) * D
                    switch precision {
                    case .float32:
                        (buffer.assumingMemoryBound(to: Float.self) + offset).update(from: source + r * W + g * D, count: D)
                    case .float16:
                        fg_f32_to_f16_array(buffer.assumingMemoryBound(to: UInt16.self) + offset, source + r * W + g * D, Int64(D))
                    }
                }
            }
        }
        scatter(k, into: keys[layer])
        scatter(v, into: values[layer])
    }

    /// Layer `layer`'s keys and values as float32 for attention over `count` positions: kv head g
    /// starts at `g * headStride` (returned) with rows D apart. A float32 cache is read in place; a
    /// float16 one has kv head `head`'s `count` rows widened into `scratch` (2·count·D floats), and
    /// then every head reads them (head stride 0).
    func floatView(layer: Int, head: Int, count: Int, scratch: UnsafeMutablePointer<Float>)
        -> (keys: UnsafePointer<Float>, values: UnsafePointer<Float>, headStride: Int) {
        switch precision {
        case .float32:
            return (UnsafePointer(keys[layer].assumingMemoryBound(to: Float.self)),
                    UnsafePointer(values[layer].assumingMemoryBound(to: Float.self)), headStride)
        case .float16:
            let D = headDimension, n = count * D
            fg_f16_to_f32_array(scratch, keys[layer].assumingMemoryBound(to: UInt16.self) + head * headStride, Int64(n))
            fg_f16_to_f32_array(scratch + n, values[layer].assumingMemoryBound(to: UInt16.self) + head * headStride, Int64(n))
            return (UnsafePointer(scratch), UnsafePointer(scratch + n), 0)
        }
    }

    /// Forgets everything after `position` (e.g. to reuse a shared prompt prefix).
    public func truncate(to position: Int) { length = min(length, max(0, position)) }

    /// Replaces this cache's contents by the first `count` positions of `source` (a prompt prefix
    /// computed once and shared by several sequences).
    public func copyPrefix(of source: KVCache, count: Int) throws {
        guard source.keys.count == keys.count, source.heads == heads, source.headDimension == headDimension,
              source.precision == precision else {
            throw EngineError.invalidInput(
                "cannot copy a cache of \(source.keys.count) layers × \(source.heads) heads × \(source.headDimension) (\(source.precision.rawValue)) into one of \(keys.count) × \(heads) × \(headDimension) (\(precision.rawValue))")
        }
        guard count >= 0, count <= source.length else {
            throw EngineError.invalidInput("cannot copy \(count) positions from a cache holding \(source.length)")
        }
        length = 0
        reserve(count)
        let rowBytes = headDimension * precision.bytes
        for l in keys.indices {
            for g in 0..<heads {
                (keys[l] + g * headStride * precision.bytes)
                    .copyMemory(from: source.keys[l] + g * source.headStride * precision.bytes, byteCount: count * rowBytes)
                (values[l] + g * headStride * precision.bytes)
                    .copyMemory(from: source.values[l] + g * source.headStride * precision.bytes, byteCount: count * rowBytes)
            }
        }
        length = count
    }
}
