import Foundation

/// One GGUF metadata value. Arrays may nest and, as in the format, hold elements
/// of a single type.
public enum GGUFValue: Sendable, Equatable {
    /// GGUF type 0.
    case uint8(UInt8)
    /// GGUF type 1.
    case int8(Int8)
    /// GGUF type 2.
    case uint16(UInt16)
    /// GGUF type 3.
    case int16(Int16)
    /// GGUF type 4.
    case uint32(UInt32)
    /// GGUF type 5.
    case int32(Int32)
    /// GGUF type 10.
    case uint64(UInt64)
    /// GGUF type 11.
    case int64(Int64)
    /// GGUF type 6.
    case float32(Float)
    /// GGUF type 12.
    case float64(Double)
    /// GGUF type 7 (stored as one byte, nonzero is true).
    case bool(Bool)
    /// GGUF type 8: u64 length + UTF-8 bytes.
    case string(String)
    /// GGUF type 9: element type, u64 count, elements.
    case array([GGUFValue])

    /// The value of any integer case as `Int` (nil for bools, floats, strings, arrays,
    /// and for a `uint64` above `Int.max`).
    public var intValue: Int? {
        switch self {
        case .uint8(let v): Int(v)
        case .int8(let v): Int(v)
        case .uint16(let v): Int(v)
        case .int16(let v): Int(v)
        case .uint32(let v): Int(v)
        case .int32(let v): Int(v)
        case .uint64(let v): Int(exactly: v)
        case .int64(let v): Int(v)
        default: nil
        }
    }

    /// The value of any numeric case (integers and floats; not bools) as `Double`.
    public var doubleValue: Double? {
        switch self {
        case .float32(let v): Double(v)
        case .float64(let v): v
        case .uint64(let v): Double(v)
        default: intValue.map(Double.init)
        }
    }

    /// The string of a `.string` value.
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The Bool of a `.bool` value.
    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    /// The elements of an `.array` value.
    public var arrayValue: [GGUFValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// The strings of an array whose elements are all strings (nil otherwise).
    public var stringArray: [String]? {
        guard let elements = arrayValue else { return nil }
        var out: [String] = []
        out.reserveCapacity(elements.count)
        for element in elements {
            guard case .string(let s) = element else { return nil }
            out.append(s)
        }
        return out
    }

    /// The integers of an array whose elements all have an ``intValue`` (nil otherwise).
    public var intArray: [Int]? {
        guard let elements = arrayValue else { return nil }
        var out: [Int] = []
        out.reserveCapacity(elements.count)
        for element in elements {
            guard let i = element.intValue else { return nil }
            out.append(i)
        }
        return out
    }
}

/// GGUF metadata value type codes (reference: ggml docs/gguf.md, `gguf_metadata_value_type`).
enum GGUFValueType: UInt32 {
    case uint8 = 0, int8 = 1, uint16 = 2, int16 = 3, uint32 = 4, int32 = 5, float32 = 6
    case bool = 7, string = 8, array = 9, uint64 = 10, int64 = 11, float64 = 12

    /// The fewest bytes one value of this type occupies in a file; bounds array counts.
    var minimumEncodedSize: Int {
        switch self {
        case .uint8, .int8, .bool: 1
        case .uint16, .int16: 2
        case .uint32, .int32, .float32: 4
        case .uint64, .int64, .float64, .string: 8  // a string is at least its u64 length
        case .array: 12                            // u32 element type + u64 count
        }
    }
}

extension GGUFValue {
    /// Arrays nested deeper than this are rejected (guards the recursion against hostile files).
    static let maximumNesting = 16

    /// Reads one value of type code `code` at the cursor.
    /// `field` names the metadata key for error messages.
    static func read(typeCode code: UInt32, at typeOffset: Int, from cursor: inout ByteCursor,
                     field: String, depth: Int = 0) throws -> GGUFValue {
        guard let type = GGUFValueType(rawValue: code) else {
            throw ModelFileError(.unknownValueType, "unknown metadata value type \(code)",
                                 field: field, offset: typeOffset, file: cursor.file)
        }
        switch type {
        case .uint8: return .uint8(try cursor.read(UInt8.self, field: field))
        case .int8: return .int8(try cursor.read(Int8.self, field: field))
        case .uint16: return .uint16(try cursor.read(UInt16.self, field: field))
        case .int16: return .int16(try cursor.read(Int16.self, field: field))
        case .uint32: return .uint32(try cursor.read(UInt32.self, field: field))
        case .int32: return .int32(try cursor.read(Int32.self, field: field))
        case .uint64: return .uint64(try cursor.read(UInt64.self, field: field))
        case .int64: return .int64(try cursor.read(Int64.self, field: field))
        case .float32: return .float32(try cursor.readFloat(field: field))
        case .float64: return .float64(try cursor.readDouble(field: field))
        case .bool: return .bool(try cursor.read(UInt8.self, field: field) != 0)
        case .string: return .string(try cursor.readGGUFString(field: field, strict: false))
        case .array: return try readArray(from: &cursor, field: field, depth: depth)
        }
    }

    /// Reads an array body: u32 element type, u64 count, then the elements.
    private static func readArray(from cursor: inout ByteCursor, field: String, depth: Int) throws -> GGUFValue {
        let start = cursor.offset
        guard depth < maximumNesting else {
            throw ModelFileError(.invalidValue, "arrays nested more than \(maximumNesting) deep",
                                 field: field, offset: start, file: cursor.file)
        }
        let elementCode = try cursor.read(UInt32.self, field: "\(field) (array element type)")
        guard let elementType = GGUFValueType(rawValue: elementCode) else {
            throw ModelFileError(.unknownValueType, "unknown array element type \(elementCode)",
                                 field: field, offset: start, file: cursor.file)
        }
        let countOffset = cursor.offset
        let count = try cursor.read(UInt64.self, field: "\(field) (array length)")
        // Every element takes at least minimumEncodedSize bytes: refuse counts the
        // rest of the file cannot hold before allocating anything.
        let capacity = UInt64(max(cursor.remaining, 0) / elementType.minimumEncodedSize)
        guard count <= capacity else {
            throw ModelFileError(
                .countTooLarge,
                "the file is truncated or corrupt: array length \(count) of \(elementType) needs at least "
                    + "\(count.multipliedReportingOverflow(by: UInt64(elementType.minimumEncodedSize)).partialValue) bytes, "
                    + "\(cursor.remaining) are left of the file's \(cursor.bytes.count)",
                field: field, offset: countOffset, file: cursor.file)
        }
        var elements: [GGUFValue] = []
        elements.reserveCapacity(Int(count))
        for index in 0 ..< Int(count) {
            let elementField = elementType == .array || elementType == .string ? "\(field)[\(index)]" : field
            elements.append(try read(typeCode: elementCode, at: start, from: &cursor,
                                     field: elementField, depth: depth + 1))
        }
        return .array(elements)
    }
}
