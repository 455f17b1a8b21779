import CKernels
import Foundation

/// A safetensors element type (the header's `"dtype"` string).
public enum SafeTensorDType: Sendable, Equatable {
    /// `"F32"`: IEEE binary32.
    case f32
    /// `"F16"`: IEEE binary16.
    case f16
    /// `"BF16"`: bfloat16.
    case bf16
    /// Any other dtype string (`"I64"`, `"U8"`, `"F8_E4M3"`, ...): listed, not convertible to `Float`.
    case other(String)

    /// Parses a header dtype string.
    public init(name: String) {
        switch name {
        case "F32": self = .f32
        case "F16": self = .f16
        case "BF16": self = .bf16
        default: self = .other(name)
        }
    }

    /// The header spelling, e.g. `"BF16"`.
    public var name: String {
        switch self {
        case .f32: "F32"
        case .f16: "F16"
        case .bf16: "BF16"
        case .other(let name): name
        }
    }

    /// Bytes per element for the dtypes of the safetensors specification; nil for unknown ones
    /// (whose data ranges are then checked for bounds only).
    public var bytesPerElement: Int? {
        switch name {
        case "F64", "I64", "U64": 8
        case "F32", "I32", "U32": 4
        case "F16", "BF16", "I16", "U16": 2
        case "I8", "U8", "BOOL", "F8_E4M3", "F8_E5M2", "F8_E8M0": 1
        default: nil
        }
    }
}

/// Where one tensor of a safetensors file lives.
public struct SafeTensorInfo: Sendable, Equatable {
    /// The tensor's key in the header.
    public let name: String
    /// Element type.
    public let dtype: SafeTensorDType
    /// Extents, row-major (PyTorch order: the last extent varies fastest).
    public let shape: [Int]
    /// Absolute byte offset of the data in the file.
    public let offset: Int
    /// Bytes of data.
    public let byteCount: Int

    /// Number of elements (product of ``shape``; 1 for a scalar).
    public var elementCount: Int { shape.reduce(1, *) }
}

/// A safetensors file, memory-mapped read-only
/// (reference: huggingface/safetensors format: u64 little-endian header length,
/// JSON header, then the data buffer that `data_offsets` index into).
///
/// `@unchecked Sendable`: all stored properties are immutable after `init` and the
/// mapping is read-only.
public final class SafeTensorsFile: @unchecked Sendable {
    /// The file that was opened.
    public let url: URL
    /// Tensors by name.
    public let tensors: [String: SafeTensorInfo]
    /// The header's `__metadata__` string map (empty when absent).
    public let metadata: [String: String]
    /// Absolute byte offset where the data buffer starts (8 + header length).
    public let dataOffset: Int

    private let mapping: MappedFile

    /// Largest header accepted, as in the reference implementation (100 MB).
    public static let maximumHeaderLength = 100_000_000

    /// Opens and validates `url`; throws ``ModelFileError`` for malformed content.
    public init(url: URL) throws {
        self.url = url
        mapping = try MappedFile(url: url)
        let file = mapping.path
        var cursor = ByteCursor(bytes: mapping.bytes, file: file)
        let headerLength = try cursor.read(UInt64.self, field: "header length")
        guard headerLength <= UInt64(Self.maximumHeaderLength) else {
            throw ModelFileError(.countTooLarge, "header length \(headerLength) exceeds \(Self.maximumHeaderLength)",
                                 field: "header length", offset: 0, file: file)
        }
        guard headerLength <= UInt64(cursor.remaining) else {
            throw ModelFileError(.truncated,
                                 "header length \(headerLength) runs past the end of the \(mapping.bytes.count)-byte file",
                                 field: "header length", offset: 0, file: file)
        }
        let headerBytes = try cursor.readBytes(Int(headerLength), field: "header")
        dataOffset = cursor.offset
        let dataSize = mapping.bytes.count - dataOffset

        func headerError(_ detail: String, field: String = "header") -> ModelFileError {
            ModelFileError(.invalidHeader, detail, field: field, offset: 8, file: file)
        }
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: Data(headerBytes), options: [])
        } catch {
            throw headerError("header is not valid JSON: \(error.localizedDescription)")
        }
        guard let header = parsed as? [String: Any] else { throw headerError("header is not a JSON object") }

        var metadata: [String: String] = [:]
        var tensors: [String: SafeTensorInfo] = [:]
        for (name, entry) in header {
            if name == "__metadata__" {
                guard let map = entry as? [String: Any] else {
                    throw headerError("__metadata__ is not an object", field: name)
                }
                for (key, value) in map {
                    guard let string = value as? String else {
                        throw headerError("__metadata__ value for \"\(key)\" is not a string", field: name)
                    }
                    metadata[key] = string
                }
                continue
            }
            tensors[name] = try Self.tensorInfo(name: name, entry: entry, dataOffset: dataOffset,
                                                dataSize: dataSize, file: file)
        }
        self.tensors = tensors
        self.metadata = metadata
    }

    /// Tensor names sorted by data offset (file order).
    public var tensorNames: [String] {
        tensors.values.sorted { $0.offset < $1.offset }.map(\.name)
    }

    /// The raw bytes of `info`'s data, pointing into the mapping: valid only while this
    /// file lives. Empty if `info` does not describe a range of this file.
    public func rawData(of info: SafeTensorInfo) -> UnsafeRawBufferPointer {
        mapping.slice(offset: info.offset, count: info.byteCount) ?? UnsafeRawBufferPointer(start: nil, count: 0)
    }

    /// The elements of tensor `name` converted to `Float`, row-major.
    /// Throws `.tensorNotFound`, or `.unsupportedTensorType` for dtypes other than F32/F16/BF16.
    public func floats(named name: String) throws -> [Float] {
        guard let info = tensors[name] else {
            throw ModelFileError(.tensorNotFound, "no tensor named \"\(name)\"", field: "tensor \(name)",
                                 offset: nil, file: mapping.path)
        }
        let ggmlType: UInt32
        switch info.dtype {
        case .f32: ggmlType = GGMLType.f32.rawValue
        case .f16: ggmlType = GGMLType.f16.rawValue
        case .bf16: ggmlType = GGMLType.bf16.rawValue
        case .other(let dtype):
            throw ModelFileError(.unsupportedTensorType, "unsupported dtype \(dtype) for tensor \(name)",
                                 field: "tensor \(name)", offset: info.offset, file: mapping.path)
        }
        let count = info.elementCount
        guard let source = mapping.slice(offset: info.offset, count: info.byteCount) else {
            throw ModelFileError(.dataOutOfBounds, "data range outside the file", field: "tensor \(name)",
                                 offset: info.offset, file: mapping.path)
        }
        // fg_dequantize reads F16/BF16 with byte loads and F32 with memcpy, so unaligned data is fine.
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            if count > 0, let destination = buffer.baseAddress,
               fg_dequantize(ggmlType, source.baseAddress, destination, Int64(count)) != 0
            {
                buffer.initialize(repeating: 0)  // unreachable: the type and count were validated
            }
            initialized = count
        }
    }

    /// Validates one header entry `{"dtype": .., "shape": [..], "data_offsets": [begin, end]}`.
    private static func tensorInfo(name: String, entry: Any, dataOffset: Int, dataSize: Int,
                                   file: String) throws -> SafeTensorInfo {
        let field = "tensor \(name)"
        func fail(_ kind: ModelFileError.Kind, _ detail: String) -> ModelFileError {
            ModelFileError(kind, detail, field: field, offset: 8, file: file)
        }
        guard let object = entry as? [String: Any] else { throw fail(.invalidHeader, "entry is not an object") }
        guard let dtypeName = object["dtype"] as? String else { throw fail(.invalidHeader, "missing string \"dtype\"") }
        guard let shapeValues = object["shape"] as? [Any] else { throw fail(.invalidHeader, "missing array \"shape\"") }
        guard let offsetValues = object["data_offsets"] as? [Any], offsetValues.count == 2 else {
            throw fail(.invalidHeader, "\"data_offsets\" must be an array of two integers")
        }
        var shape: [Int] = []
        for value in shapeValues {
            guard let extent = nonNegativeInteger(value) else {
                throw fail(.invalidShape, "shape \(shapeValues) has an extent that is not a non-negative integer")
            }
            shape.append(extent)
        }
        guard let begin = nonNegativeInteger(offsetValues[0]), let end = nonNegativeInteger(offsetValues[1]),
              begin <= end
        else {
            throw fail(.invalidHeader, "data_offsets \(offsetValues) are not 0 <= begin <= end")
        }
        guard end <= dataSize else {
            throw fail(.dataOutOfBounds, "data_offsets [\(begin), \(end)) run past the \(dataSize)-byte data buffer")
        }
        let dtype = SafeTensorDType(name: dtypeName)
        var elements = 1
        for extent in shape {
            let (next, overflow) = elements.multipliedReportingOverflow(by: extent)
            guard !overflow else { throw fail(.invalidShape, "shape \(shape) overflows the element count") }
            elements = next
        }
        if let size = dtype.bytesPerElement {
            let (expected, overflow) = elements.multipliedReportingOverflow(by: size)
            guard !overflow, expected == end - begin else {
                throw fail(.invalidShape,
                           "shape \(shape) of \(dtypeName) needs \(elements) x \(size) bytes but data_offsets span \(end - begin)")
            }
        }
        return SafeTensorInfo(name: name, dtype: dtype, shape: shape, offset: dataOffset + begin, byteCount: end - begin)
    }

    /// A JSON number that is a non-negative integer.
    private static func nonNegativeInteger(_ value: Any) -> Int? {
        guard let integer = value as? Int, integer >= 0 else { return nil }
        return integer
    }
}
