import CKernels
import Foundation

/// Where one tensor of a GGUF file lives and how it is encoded.
public struct GGUFTensorInfo: Sendable, Equatable {
    /// The tensor's name, e.g. `"blk.0.attn_q.weight"`.
    public let name: String
    /// Extents in GGUF order: `dimensions[0]` is the fastest-varying (= columns of a matrix),
    /// so a `[out, in]` PyTorch matrix is stored as `[in, out]`.
    public let dimensions: [Int]
    /// Element encoding.
    public let type: GGMLType
    /// Absolute byte offset of the tensor's data in the file.
    public let offset: Int
    /// Bytes of data (whole blocks of ``type``).
    public let byteCount: Int

    /// Number of elements (product of ``dimensions``; 1 for a scalar). ``GGUFFile`` has
    /// checked that this product does not overflow for every info it returns.
    public var elementCount: Int { dimensions.reduce(1, *) }

    /// Creates a tensor info; ``GGUFFile`` validates the values it reads.
    public init(name: String, dimensions: [Int], type: GGMLType, offset: Int, byteCount: Int) {
        self.name = name
        self.dimensions = dimensions
        self.type = type
        self.offset = offset
        self.byteCount = byteCount
    }
}

/// A GGUF model file (versions 2 and 3), memory-mapped read-only.
///
/// The header (metadata and tensor infos) is parsed and fully validated in `init`:
/// afterwards every tensor's data range is known to lie inside the file.
/// Tensor data is not copied: ``rawData(of:)`` points into the mapping and
/// ``floats(of:)`` dequantizes on demand.
///
/// ```swift
/// let gguf = try GGUFFile(url: url)
/// let layers = gguf.metadata["llama.block_count"]?.intValue
/// let norm = try gguf.floats(of: gguf.tensor(named: "output_norm.weight")!)
/// ```
///
/// `@unchecked Sendable`: all stored properties are immutable after `init` and the
/// mapping is read-only, so concurrent reads are safe.
public final class GGUFFile: @unchecked Sendable {
    /// The file that was opened.
    public let url: URL
    /// Format version (2 or 3).
    public let version: UInt32
    /// All metadata key/value pairs.
    public let metadata: [String: GGUFValue]
    /// Tensor infos in file order.
    public let tensors: [GGUFTensorInfo]
    /// Data-section alignment in bytes (`general.alignment`, default 32).
    public let alignment: Int
    /// Absolute byte offset where the tensor data section starts.
    public let dataOffset: Int

    private let mapping: MappedFile
    private let tensorIndex: [String: Int]

    /// The GGUF magic `"GGUF"` read as a little-endian u32.
    static let magic: UInt32 = 0x4655_4747
    /// Default data alignment when `general.alignment` is absent.
    public static let defaultAlignment = 32
    /// Most dimensions a ggml tensor can have (`GGML_MAX_DIMS`).
    public static let maximumDimensions = 4

    /// Opens and validates `url`. Throws ``ModelFileError`` for any malformed or
    /// unsupported content; never traps on file contents.
    public init(url: URL) throws {
        self.url = url
        mapping = try MappedFile(url: url)
        let file = mapping.path
        var cursor = ByteCursor(bytes: mapping.bytes, file: file)

        // Header: magic, version, tensor count, metadata count.
        let magicValue = try cursor.read(UInt32.self, field: "magic")
        guard magicValue == Self.magic else {
            throw ModelFileError(.badMagic, String(format: "bad magic 0x%08x, expected \"GGUF\"", magicValue),
                                 field: "magic", offset: 0, file: file)
        }
        let version = try cursor.read(UInt32.self, field: "version")
        guard version == 2 || version == 3 else {
            let detail: String
            if version == 1 {
                detail = "GGUF version 1 (32-bit counts) is not supported; convert the file to version 3"
            } else if (1 ... 3).contains(version.byteSwapped) {
                detail = "big-endian GGUF (version \(version.byteSwapped)) is not supported"
            } else {
                detail = "unsupported GGUF version \(version); versions 2 and 3 are supported"
            }
            throw ModelFileError(.unsupportedVersion, detail, field: "version", offset: 4, file: file)
        }
        self.version = version
        let tensorCountOffset = cursor.offset
        let tensorCount = try cursor.read(UInt64.self, field: "tensor_count")
        let metadataCountOffset = cursor.offset
        let metadataCount = try cursor.read(UInt64.self, field: "metadata_kv_count")
        // Smallest encodings: a key/value is u64 length + u32 type + 1 byte; a tensor
        // info is u64 length + u32 n_dims + u32 type + u64 offset.
        try Self.checkCount(tensorCount, minimumBytes: 24, cursor: cursor, field: "tensor_count", at: tensorCountOffset)
        try Self.checkCount(metadataCount, minimumBytes: 13, cursor: cursor, field: "metadata_kv_count",
                            at: metadataCountOffset)

        // Metadata.
        var metadata: [String: GGUFValue] = [:]
        metadata.reserveCapacity(Int(metadataCount))
        for index in 0 ..< Int(metadataCount) {
            let keyOffset = cursor.offset
            let key = try cursor.readGGUFString(field: "metadata key #\(index)", strict: true)
            let typeOffset = cursor.offset
            let typeCode = try cursor.read(UInt32.self, field: "\(key) (value type)")
            let value = try GGUFValue.read(typeCode: typeCode, at: typeOffset, from: &cursor, field: key)
            guard metadata.updateValue(value, forKey: key) == nil else {
                throw ModelFileError(.duplicateKey, "metadata key \"\(key)\" appears twice",
                                     field: key, offset: keyOffset, file: file)
            }
        }
        self.metadata = metadata
        let alignment = try Self.alignment(in: metadata, file: file)
        self.alignment = alignment

        // Tensor infos (offsets are relative to the data section until it is known).
        var pending: [(info: GGUFTensorInfo, offsetField: Int)] = []
        pending.reserveCapacity(Int(tensorCount))
        var tensorIndex: [String: Int] = [:]
        for index in 0 ..< Int(tensorCount) {
            let nameOffset = cursor.offset
            let name = try cursor.readGGUFString(field: "tensor #\(index) name", strict: true)
            let info = try Self.readTensorInfo(name: name, from: &cursor)
            guard tensorIndex.updateValue(index, forKey: name) == nil else {
                throw ModelFileError(.duplicateTensor, "tensor name \"\(name)\" appears twice",
                                     field: "tensor \(name)", offset: nameOffset, file: file)
            }
            pending.append(info)
        }
        self.tensorIndex = tensorIndex

        // Data section: starts at the next multiple of the alignment.
        let headerEnd = cursor.offset
        let dataOffset = (headerEnd + alignment - 1) / alignment * alignment
        self.dataOffset = dataOffset
        let fileSize = mapping.bytes.count
        tensors = try pending.map { item in
            let info = item.info
            guard info.offset % alignment == 0 else {
                throw ModelFileError(.dataOutOfBounds,
                                     "data offset \(info.offset) is not a multiple of the alignment \(alignment)",
                                     field: "tensor \(info.name)", offset: item.offsetField, file: file)
            }
            let (start, overflow) = dataOffset.addingReportingOverflow(info.offset)
            guard !overflow, start <= fileSize, info.byteCount <= fileSize - start else {
                throw ModelFileError(
                    .dataOutOfBounds,
                    "the file is truncated or corrupt: the data of this tensor ends at byte "
                        + "\(overflow ? "(overflow)" : "\(start &+ info.byteCount)") but the file has \(fileSize) bytes "
                        + "(data [\(info.offset), +\(info.byteCount)) after the data section at \(dataOffset))",
                    field: "tensor \(info.name)", offset: item.offsetField, file: file)
            }
            return GGUFTensorInfo(name: info.name, dimensions: info.dimensions, type: info.type,
                                  offset: start, byteCount: info.byteCount)
        }
    }

    /// The tensor called `named`, if any.
    public func tensor(named name: String) -> GGUFTensorInfo? {
        tensorIndex[name].map { tensors[$0] }
    }

    /// The raw (still encoded) bytes of `info`'s data, pointing into the mapping: valid
    /// only while this `GGUFFile` lives. Empty if `info` does not describe a range of this file.
    public func rawData(of info: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        mapping.slice(offset: info.offset, count: info.byteCount) ?? UnsafeRawBufferPointer(start: nil, count: 0)
    }

    /// The tensor's elements converted to `Float`, in GGUF order (`dimensions[0]` fastest).
    ///
    /// Throws `.unsupportedTensorType` for types without a dequantizer
    /// (see ``GGMLType/isDequantizable``) and `.invalidArgument` for an info that
    /// does not belong to this file.
    public func floats(of info: GGUFTensorInfo) throws -> [Float] {
        let field = "tensor \(info.name)"
        guard info.type.isDequantizable else {
            throw ModelFileError(.unsupportedTensorType,
                                 "unsupported tensor type \(info.type.name) for tensor \(info.name)",
                                 field: field, offset: info.offset, file: mapping.path)
        }
        let count = try Self.elementCount(info.dimensions, file: mapping.path, field: field, at: info.offset)
        guard info.type.byteCount(elementCount: count) == info.byteCount,
              let source = mapping.slice(offset: info.offset, count: info.byteCount)
        else {
            throw ModelFileError(.invalidArgument, "tensor info does not describe a range of this file",
                                 field: field, offset: info.offset, file: mapping.path)
        }
        var status: Int32 = 0
        let values = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            if count > 0, let destination = buffer.baseAddress {
                status = fg_dequantize(info.type.rawValue, source.baseAddress, destination, Int64(count))
            }
            // On failure the elements are still plain floats; zero them rather than expose garbage.
            if status != 0 { buffer.initialize(repeating: 0) }
            initialized = count
        }
        guard status == 0 else {
            throw ModelFileError(.unsupportedTensorType,
                                 "dequantization of \(info.type.name) failed (status \(status)) for tensor \(info.name)",
                                 field: field, offset: info.offset, file: mapping.path)
        }
        return values
    }

    /// ``floats(of:)`` for the tensor called `name`; throws `.tensorNotFound` if there is none.
    public func floats(named name: String) throws -> [Float] {
        guard let info = tensor(named: name) else {
            throw ModelFileError(.tensorNotFound, "no tensor named \"\(name)\"", field: "tensor \(name)",
                                 offset: nil, file: mapping.path)
        }
        return try floats(of: info)
    }

    // MARK: - Header parsing helpers

    /// Throws `.countTooLarge` unless `count` items of at least `minimumBytes` each fit in the rest of the file.
    private static func checkCount(_ count: UInt64, minimumBytes: Int, cursor: ByteCursor,
                                   field: String, at offset: Int) throws {
        let capacity = UInt64(max(cursor.remaining, 0) / minimumBytes)
        guard count <= capacity else {
            throw ModelFileError(.countTooLarge,
                                 "the file is truncated or corrupt: \(field) \(count) needs at least "
                                     + "\(count.multipliedReportingOverflow(by: UInt64(minimumBytes)).partialValue) bytes, "
                                     + "\(cursor.remaining) are left of the file's \(cursor.bytes.count)",
                                 field: field, offset: offset, file: cursor.file)
        }
    }

    /// `general.alignment` (any integer type accepted; must be a power of two up to 1 MiB).
    private static func alignment(in metadata: [String: GGUFValue], file: String) throws -> Int {
        guard let value = metadata["general.alignment"] else { return defaultAlignment }
        guard let alignment = value.intValue, alignment > 0, alignment <= 1 << 20,
              alignment & (alignment - 1) == 0
        else {
            throw ModelFileError(.invalidValue, "general.alignment must be a power of two, got \(value)",
                                 field: "general.alignment", offset: nil, file: file)
        }
        return alignment
    }

    /// Product of `dimensions`, throwing `.invalidShape` on overflow.
    static func elementCount(_ dimensions: [Int], file: String, field: String, at offset: Int) throws -> Int {
        var product = 1
        for extent in dimensions {
            let (next, overflow) = product.multipliedReportingOverflow(by: extent)
            guard !overflow, extent >= 0 else {
                throw ModelFileError(.invalidShape, "dimensions \(dimensions) overflow the element count",
                                     field: field, offset: offset, file: file)
            }
            product = next
        }
        return product
    }

    /// Reads the rest of a tensor info after its name: n_dims, extents, type, relative offset.
    /// Returns the info with its offset still relative, plus the position of the offset field.
    private static func readTensorInfo(name: String, from cursor: inout ByteCursor) throws
        -> (info: GGUFTensorInfo, offsetField: Int)
    {
        let field = "tensor \(name)"
        let file = cursor.file
        let dimensionCountOffset = cursor.offset
        let dimensionCount = try cursor.read(UInt32.self, field: "\(field) n_dims")
        guard dimensionCount <= maximumDimensions else {
            throw ModelFileError(.invalidShape, "\(dimensionCount) dimensions; at most \(maximumDimensions) allowed",
                                 field: field, offset: dimensionCountOffset, file: file)
        }
        var dimensions: [Int] = []
        for axis in 0 ..< Int(dimensionCount) {
            let extentOffset = cursor.offset
            let extent = try cursor.read(UInt64.self, field: "\(field) dimension \(axis)")
            guard let value = Int(exactly: extent) else {
                throw ModelFileError(.invalidShape, "dimension \(axis) extent \(extent) is too large",
                                     field: field, offset: extentOffset, file: file)
            }
            dimensions.append(value)
        }
        let typeOffset = cursor.offset
        let typeCode = try cursor.read(UInt32.self, field: "\(field) type")
        guard let type = GGMLType(rawValue: typeCode) else {
            throw ModelFileError(.unknownTensorType, "unknown ggml tensor type \(typeCode) for tensor \(name)",
                                 field: field, offset: typeOffset, file: file)
        }
        let offsetField = cursor.offset
        let relative = try cursor.read(UInt64.self, field: "\(field) offset")
        let count = try elementCount(dimensions, file: file, field: field, at: dimensionCountOffset)
        guard (dimensions.first ?? 1) % type.blockSize == 0, let byteCount = type.byteCount(elementCount: count) else {
            throw ModelFileError(.invalidShape,
                                 "rows of \(dimensions.first ?? 1) elements are not whole \(type.name) blocks of \(type.blockSize)",
                                 field: field, offset: dimensionCountOffset, file: file)
        }
        guard let offset = Int(exactly: relative) else {
            throw ModelFileError(.dataOutOfBounds, "data offset \(relative) is too large",
                                 field: field, offset: offsetField, file: file)
        }
        return (GGUFTensorInfo(name: name, dimensions: dimensions, type: type, offset: offset, byteCount: byteCount),
                offsetField)
    }
}
