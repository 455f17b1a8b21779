import Foundation

/// Writes F32 safetensors files (e.g. PEFT LoRA adapters).
///
/// Layout as the reference implementation writes it: u64 little-endian header length,
/// a compact JSON header (`__metadata__` first when non-empty, then tensors in byte order
/// of their names) padded with spaces to a multiple of 8 bytes, then the tensors'
/// little-endian data back to back in the same order.
public enum SafeTensorsWriter {
    /// Writes `tensors` (all F32; `shape` row-major) and string `metadata` to `url`, atomically.
    ///
    /// Throws ``ModelFileError``: `.invalidArgument` for an empty, duplicate or reserved
    /// (`__metadata__`) name, a negative extent, or a value count that does not match the
    /// shape; `.io` when the file cannot be written.
    public static func write(_ tensors: [(name: String, shape: [Int], values: [Float])],
                             metadata: [String: String], to url: URL) throws {
        let file = url.path
        func invalid(_ detail: String, _ field: String) -> ModelFileError {
            ModelFileError(.invalidArgument, detail, field: field, offset: nil, file: file)
        }
        var seen = Set<String>()
        for tensor in tensors {
            let field = "tensor \(tensor.name)"
            guard !tensor.name.isEmpty, tensor.name != "__metadata__" else {
                throw invalid("tensor name \"\(tensor.name)\" is empty or reserved", field)
            }
            guard seen.insert(tensor.name).inserted else { throw invalid("duplicate tensor name", field) }
            var elements = 1
            for extent in tensor.shape {
                let (next, overflow) = elements.multipliedReportingOverflow(by: extent)
                guard extent >= 0, !overflow else { throw invalid("invalid shape \(tensor.shape)", field) }
                elements = next
            }
            guard elements == tensor.values.count else {
                throw invalid("shape \(tensor.shape) holds \(elements) values but \(tensor.values.count) were given", field)
            }
        }
        let ordered = tensors.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }

        // Header JSON, compact, deterministic.
        var entries: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
                .map { "\(jsonString($0)):\(jsonString(metadata[$0] ?? ""))" }
            entries.append("\"__metadata__\":{\(pairs.joined(separator: ","))}")
        }
        var position = 0
        for tensor in ordered {
            let byteCount = tensor.values.count * MemoryLayout<Float>.size
            let shape = tensor.shape.map(String.init).joined(separator: ",")
            entries.append("\(jsonString(tensor.name)):{\"dtype\":\"F32\",\"shape\":[\(shape)],"
                + "\"data_offsets\":[\(position),\(position + byteCount)]}")
            position += byteCount
        }
        var header = Array("{\(entries.joined(separator: ","))}".utf8)
        header.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - header.count % 8) % 8))

        var data = Data(capacity: 8 + header.count + position)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: header)
        for tensor in ordered {
            tensor.values.withUnsafeBufferPointer { buffer in
                #if _endian(little)
                data.append(UnsafeBufferPointer(start: buffer.baseAddress, count: buffer.count))
                #else
                for value in buffer { withUnsafeBytes(of: value.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
                #endif
            }
        }
        do {
            try data.write(to: url, options: .atomic)
        } catch {
            throw ModelFileError(.io, "cannot write file: \(error.localizedDescription)", field: "file",
                                 offset: nil, file: file)
        }
    }

    /// `s` as a JSON string literal (quotes, backslashes and control characters escaped).
    static func jsonString(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
