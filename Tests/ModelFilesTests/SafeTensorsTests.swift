import Foundation
import Testing

@testable import ModelFiles

/// safetensors: reading the torch-written fixture, writing byte-identical files, malformed headers.
@Suite struct SafeTensorsTests {
    struct Expected: Decodable {
        let values: [String: [Double]]
        let shapes: [String: [Int]]
        let metadata: [String: String]
    }

    @Test func readsTorchFixture() throws {
        let file = try SafeTensorsFile(url: Fixtures.url("tiny.safetensors"))
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: Fixtures.url("safetensors_expected.json")))
        #expect(file.metadata == expected.metadata)
        #expect(Set(file.tensors.keys) == Set(expected.shapes.keys))
        for (name, shape) in expected.shapes { #expect(file.tensors[name]?.shape == shape) }
        #expect(file.tensors["model.f32"]?.dtype == .f32)
        #expect(file.tensors["model.f16"]?.dtype == .f16)
        #expect(file.tensors["model.bf16"]?.dtype == .bf16)
        #expect(file.tensors["model.i64"]?.dtype == .other("I64"))
        #expect(file.tensors["model.scalar"]?.elementCount == 1)
        for (name, values) in expected.values {
            let actual = try file.floats(named: name)
            #expect(actual == values.map { Float($0) }, "\(name)")
        }
        let info = try #require(file.tensors["model.i64"])
        #expect(file.rawData(of: info).count == 24)
        let error = try #require(throws: ModelFileError.self) { try file.floats(named: "model.i64") }
        #expect(error.kind == .unsupportedTensorType && error.detail.contains("I64"))
        let missing = try #require(throws: ModelFileError.self) { try file.floats(named: "nope") }
        #expect(missing.kind == .tensorNotFound)
    }

    @Test func writerMatchesTheReferenceImplementationByteForByte() throws {
        let directory = try TemporaryDirectory()
        let url = directory.url.appendingPathComponent("out.safetensors")
        let ramp = { (n: Int) in (0 ..< n).map { Float($0) * 0.25 - 1 } }
        try SafeTensorsWriter.write(
            [(name: "b.lora_B.weight", shape: [2, 3], values: ramp(6)),
             (name: "c.scalar", shape: [], values: [3]),
             (name: "a.lora_A.weight", shape: [4], values: ramp(4))],
            metadata: ["format": "pt"], to: url)
        let written = [UInt8](try Data(contentsOf: url))
        #expect(written == (try Fixtures.bytes("writer_reference.safetensors")))
    }

    @Test func writerRoundTripAndPadding() throws {
        let directory = try TemporaryDirectory()
        let url = directory.url.appendingPathComponent("adapter.safetensors")
        var generator = SplitMix64(seed: 3)
        let a = (0 ..< 8 * 3).map { _ in Float.random(in: -1 ... 1, using: &generator) }
        let b = (0 ..< 5).map { _ in Float.random(in: -1e6 ... 1e6, using: &generator) }
        let metadata = ["format": "pt", "quote\"and\\slash": "line\nbreak ✓"]
        try SafeTensorsWriter.write([(name: "x", shape: [8, 3], values: a), (name: "y.é", shape: [5], values: b)],
                                    metadata: metadata, to: url)
        let bytes = [UInt8](try Data(contentsOf: url))
        let headerLength = bytes[0 ..< 8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        #expect(headerLength % 8 == 0)
        #expect(bytes[8 + headerLength - 1] == UInt8(ascii: " ") || bytes[8 + headerLength - 1] == UInt8(ascii: "}"))
        let file = try SafeTensorsFile(url: url)
        #expect(file.metadata == metadata)
        #expect(try file.floats(named: "x") == a)
        #expect(try file.floats(named: "y.é") == b)
        #expect(file.tensors["x"]?.shape == [8, 3])
        #expect(file.tensorNames == ["x", "y.é"])
        #expect(file.dataOffset == 8 + headerLength)
    }

    @Test func writerRejectsInconsistentInput() throws {
        let directory = try TemporaryDirectory()
        let url = directory.url.appendingPathComponent("bad.safetensors")
        let cases: [[(name: String, shape: [Int], values: [Float])]] = [
            [(name: "x", shape: [2, 2], values: [1, 2, 3])],
            [(name: "x", shape: [1], values: [1]), (name: "x", shape: [1], values: [2])],
            [(name: "__metadata__", shape: [1], values: [1])],
            [(name: "", shape: [1], values: [1])],
            [(name: "x", shape: [-1], values: [])],
        ]
        for tensors in cases {
            let error = try #require(throws: ModelFileError.self) {
                try SafeTensorsWriter.write(tensors, metadata: [:], to: url)
            }
            #expect(error.kind == .invalidArgument)
        }
        #expect(!FileManager.default.fileExists(atPath: url.path))
    }

    /// Builds a safetensors file from a header string and `dataCount` data bytes.
    static func file(header: String, dataCount: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { bytes += $0 }
        bytes += Array(header.utf8)
        bytes += [UInt8](repeating: 0, count: dataCount)
        return bytes
    }

    @Test(arguments: [
        ("not json", ModelFileError.Kind.invalidHeader),
        ("[1,2]", .invalidHeader),
        (#"{"x":5}"#, .invalidHeader),
        (#"{"x":{"dtype":"F32","shape":[2]}}"#, .invalidHeader),
        (#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#, .invalidHeader),
        (#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,1000]}}"#, .dataOutOfBounds),
        (#"{"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, .invalidShape),
        (#"{"x":{"dtype":"F16","shape":[-2],"data_offsets":[0,4]}}"#, .invalidShape),
        (#"{"x":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}"#, .invalidShape),
        (#"{"__metadata__":{"a":1}}"#, .invalidHeader),
        (#"{"__metadata__":[]}"#, .invalidHeader),
    ])
    func malformedHeaders(header: String, kind: ModelFileError.Kind) throws {
        let error = try #require(try safeTensorsError(Self.file(header: header, dataCount: 8), in: TemporaryDirectory()))
        #expect(error.kind == kind, "\(header): \(error)")
        #expect(error.file.hasSuffix("probe.safetensors"))
    }

    @Test func headerLengthPastTheEnd() throws {
        let directory = try TemporaryDirectory()
        var bytes = Self.file(header: "{}", dataCount: 0)
        bytes[0] = 200
        let past = try #require(try safeTensorsError(bytes, in: directory))
        #expect(past.kind == .truncated && past.field == "header length" && past.offset == 0)
        bytes.replaceSubrange(0 ..< 8, with: [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])
        let huge = try #require(try safeTensorsError(bytes, in: directory))
        #expect(huge.kind == .countTooLarge)
        let short = try #require(try safeTensorsError([1, 2, 3], in: directory))
        #expect(short.kind == .truncated)
        #expect(try safeTensorsError(Self.file(header: "{}", dataCount: 0), in: directory) == nil)
    }

    @Test func truncatedAnywhere() throws {
        let bytes = try Fixtures.bytes("tiny.safetensors")
        let directory = try TemporaryDirectory()
        for length in 0 ..< bytes.count {
            let error = try #require(try safeTensorsError(Array(bytes[..<length]), in: directory), "length \(length)")
            #expect([.truncated, .dataOutOfBounds].contains(error.kind), "\(length): \(error)")
        }
    }
}
