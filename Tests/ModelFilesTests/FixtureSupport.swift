import Foundation
import Testing

@testable import ModelFiles

/// Fixture files written by scripts/fixtures/modelfiles_fixtures.py.
enum Fixtures {
    /// URL of fixture `name` (e.g. `"tiny.gguf"`) in the test bundle.
    static func url(_ name: String) throws -> URL {
        let base = (name as NSString).deletingPathExtension
        let ext = (name as NSString).pathExtension
        let url = Bundle.module.url(forResource: base, withExtension: ext, subdirectory: "Fixtures")
        return try #require(url, "missing fixture \(name)")
    }

    /// The bytes of fixture `name`.
    static func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: url(name)))
    }

    /// One entry of gguf_expected.json.
    struct ExpectedTensor: Decodable {
        let name: String
        let type: String
        let dims: [Int]
        let count: Int
        let start: Int?
    }

    struct ExpectedGGUF: Decodable {
        let alignment: Int
        let tensors: [ExpectedTensor]
    }

    static func expectedGGUF() throws -> ExpectedGGUF {
        try JSONDecoder().decode(ExpectedGGUF.self, from: Data(contentsOf: url("gguf_expected.json")))
    }

    /// The concatenated expected dequantized values (little-endian float32).
    static func expectedGGUFValues() throws -> [Float] {
        let data = try Data(contentsOf: url("gguf_expected.f32"))
        return data.withUnsafeBytes { raw in
            (0 ..< raw.count / 4).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
        }
    }
}

/// A per-test scratch directory, removed when the value is deinitialised.
final class TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("modelfiles-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    /// Writes `bytes` to `name` inside the directory and returns its URL.
    func write(_ bytes: [UInt8], name: String = "file.bin") throws -> URL {
        let file = url.appendingPathComponent(name)
        try Data(bytes).write(to: file)
        return file
    }
}

/// Opens `bytes` as a GGUF file and returns the error it throws (nil if it opened).
/// Any error other than ``ModelFileError`` fails the test.
func ggufError(_ bytes: [UInt8], in directory: TemporaryDirectory) throws -> ModelFileError? {
    let url = try directory.write(bytes, name: "probe.gguf")
    do {
        _ = try GGUFFile(url: url)
        return nil
    } catch let error as ModelFileError {
        return error
    }
}

/// Same as ``ggufError(_:in:)`` for safetensors.
func safeTensorsError(_ bytes: [UInt8], in directory: TemporaryDirectory) throws -> ModelFileError? {
    let url = try directory.write(bytes, name: "probe.safetensors")
    do {
        _ = try SafeTensorsFile(url: url)
        return nil
    } catch let error as ModelFileError {
        return error
    }
}

/// Little-endian byte builder for hand-made (often malformed) GGUF files.
struct GGUFBuilder {
    var bytes: [UInt8] = []

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func string(_ s: String) {
        u64(UInt64(s.utf8.count))
        bytes.append(contentsOf: s.utf8)
    }

    /// Header: magic, version, tensor count, metadata count.
    mutating func header(version: UInt32 = 3, tensorCount: UInt64, metadataCount: UInt64) {
        bytes.append(contentsOf: Array("GGUF".utf8))
        u32(version)
        u64(tensorCount)
        u64(metadataCount)
    }

    /// A u32 metadata entry.
    mutating func kvUInt32(_ key: String, _ value: UInt32) {
        string(key)
        u32(4)
        u32(value)
    }

    /// A tensor info with `dims` (GGUF order), ggml `type` and relative `offset`.
    mutating func tensorInfo(_ name: String, dims: [UInt64], type: UInt32, offset: UInt64) {
        string(name)
        u32(UInt32(dims.count))
        dims.forEach { u64($0) }
        u32(type)
        u64(offset)
    }

    /// Pads with zeros to a multiple of `alignment`, then appends `count` data bytes.
    mutating func data(count: Int, alignment: Int = 32) {
        while bytes.count % alignment != 0 { bytes.append(0) }
        bytes.append(contentsOf: (0 ..< count).map { UInt8(truncatingIfNeeded: $0 &* 37) })
    }

    /// A valid file with one F32 tensor of `dims` at offset 0 (used as a baseline).
    static func oneTensor(name: String = "w", dims: [UInt64] = [4, 2], type: UInt32 = 0, offset: UInt64 = 0,
                          dataBytes: Int = 32) -> [UInt8] {
        var b = GGUFBuilder()
        b.header(tensorCount: 1, metadataCount: 1)
        b.kvUInt32("test.key", 7)
        b.tensorInfo(name, dims: dims, type: type, offset: offset)
        b.data(count: dataBytes)
        return b.bytes
    }
}

/// Overwrites 8 bytes at `offset` with little-endian `value`.
func patchU64(_ bytes: inout [UInt8], at offset: Int, _ value: UInt64) {
    withUnsafeBytes(of: value.littleEndian) { for i in 0 ..< 8 { bytes[offset + i] = $0[i] } }
}

/// Overwrites 4 bytes at `offset` with little-endian `value`.
func patchU32(_ bytes: inout [UInt8], at offset: Int, _ value: UInt32) {
    withUnsafeBytes(of: value.littleEndian) { for i in 0 ..< 4 { bytes[offset + i] = $0[i] } }
}

/// SplitMix64: a tiny seeded generator so fuzz-style tests are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Bitwise float equality that also treats any two NaNs as equal.
func sameFloat(_ a: Float, _ b: Float) -> Bool {
    (a.isNaN && b.isNaN) || a.bitPattern == b.bitPattern
}
