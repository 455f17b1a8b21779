/// A fixed-size, 64-byte aligned buffer of `Float` that the engine owns.
///
/// Hot loops take `pointer` once outside the loop (Swift array access inside a class is far slower,
/// see ENGINE.md). The buffer is zero-initialised.
public final class FloatBuffer: @unchecked Sendable {
    // @unchecked Sendable: the engine hands a buffer to several threads only for disjoint ranges
    // (row or head splits) inside one parallel region; no two threads write the same element.

    /// The first element.
    public let pointer: UnsafeMutablePointer<Float>
    /// Number of elements.
    public let count: Int

    /// Allocates `count` zeroed floats.
    public init(count: Int) {
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * MemoryLayout<Float>.stride, alignment: 64)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
    }

    /// Allocates `count` floats without initializing them, for a caller that writes every one
    /// before anything reads them (a weight's float copy, dequantized into it).
    init(uninitializedCount count: Int) {
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * MemoryLayout<Float>.stride, alignment: 64)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    /// Copies `values` into a new buffer.
    public convenience init(_ values: [Float]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { src in
            if let base = src.baseAddress { pointer.update(from: base, count: values.count) }
        }
    }

    deinit { pointer.deallocate() }

    /// The contents as an array (for tests and small results).
    public var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }

    /// Sets every element to zero.
    public func zero() { pointer.update(repeating: 0, count: count) }
}
