import Foundation
import Testing

@testable import ModelFiles

/// Reading the gguf-py-written fixture: metadata of every value type, tensor infos, versions.
@Suite struct GGUFReaderTests {
    @Test func metadataOfEveryTypeRoundTrips() throws {
        let gguf = try GGUFFile(url: Fixtures.url("tiny.gguf"))
        let m = gguf.metadata
        #expect(gguf.version == 3)
        #expect(m.count == 26)  // 24 test keys + general.architecture + general.alignment
        #expect(m["general.architecture"] == .string("llama"))
        #expect(m["general.alignment"] == .uint32(64))
        #expect(m["test.uint8"] == .uint8(200))
        #expect(m["test.int8"] == .int8(-100))
        #expect(m["test.uint16"] == .uint16(60000))
        #expect(m["test.int16"] == .int16(-30000))
        #expect(m["test.uint32"] == .uint32(4_000_000_000))
        #expect(m["test.int32"] == .int32(-2_000_000_000))
        #expect(m["test.uint64"] == .uint64((UInt64(1) << 63) + 5))
        #expect(m["test.int64"] == .int64(-(1 << 62)))
        #expect(m["test.float32"] == .float32(0.1))
        #expect(m["test.float64"] == .float64(-1.5e-300))
        #expect(m["test.bool.true"] == .bool(true))
        #expect(m["test.bool.false"] == .bool(false))
        #expect(m["test.string"] == .string("héllo ✓ 🦙"))
        #expect(m["test.string.empty"] == .string(""))
        #expect(m["test.array.uint8"] == .array([.uint8(1), .uint8(2), .uint8(255)]))
        #expect(m["test.array.int16"] == .array([.int16(-3), .int16(7)]))
        #expect(m["test.array.int32"] == .array([.int32(-1), .int32(0), .int32(49152)]))
        #expect(m["test.array.uint64"] == .array([.uint64(0), .uint64(.max)]))
        #expect(m["test.array.float32"] == .array([.float32(0.5), .float32(-2.25), .float32(1e-3)]))
        #expect(m["test.array.float64"] == .array([.float64(3.141592653589793)]))
        #expect(m["test.array.bool"] == .array([.bool(true), .bool(false), .bool(true)]))
        #expect(m["test.array.string"]?.stringArray == ["a", "bc", "<|im_start|>", "Ġü", ""])
        #expect(m["test.array.nested"] == .array([
            .array([.int32(1), .int32(2)]), .array([.int32(3)]), .array([.int32(4), .int32(5), .int32(6)]),
        ]))
        #expect(m["test.array.nested.strings"] == .array([
            .array([.string("x")]), .array([.string("y"), .string("z")]),
        ]))
    }

    @Test func valueAccessors() throws {
        let m = try GGUFFile(url: Fixtures.url("tiny.gguf")).metadata
        #expect(m["test.uint32"]?.intValue == 4_000_000_000)
        #expect(m["test.int8"]?.intValue == -100)
        #expect(m["test.uint64"]?.intValue == nil)  // above Int.max
        #expect(m["test.uint64"]?.doubleValue == Double((UInt64(1) << 63) + 5))
        #expect(m["test.bool.true"]?.intValue == nil)
        #expect(m["test.bool.true"]?.doubleValue == nil)
        #expect(m["test.bool.true"]?.boolValue == true)
        #expect(m["test.float32"]?.doubleValue == Double(Float(0.1)))
        #expect(m["test.float32"]?.intValue == nil)
        #expect(m["test.string"]?.stringValue == "héllo ✓ 🦙")
        #expect(m["test.uint8"]?.stringValue == nil)
        #expect(m["test.array.int32"]?.intArray == [-1, 0, 49152])
        #expect(m["test.array.uint8"]?.intArray == [1, 2, 255])
        #expect(m["test.array.uint64"]?.intArray == nil)  // UInt64.max has no Int
        #expect(m["test.array.int32"]?.stringArray == nil)
        #expect(m["test.array.string"]?.intArray == nil)
        #expect(m["test.array.nested"]?.arrayValue?.count == 3)
        #expect(m["test.array.nested"]?.arrayValue?[2].intArray == [4, 5, 6])
        #expect(m["test.string"]?.arrayValue == nil)
    }

    @Test func tensorInfosMatchTheManifest() throws {
        let gguf = try GGUFFile(url: Fixtures.url("tiny.gguf"))
        let expected = try Fixtures.expectedGGUF()
        #expect(gguf.alignment == expected.alignment)
        #expect(gguf.dataOffset % 64 == 0)
        #expect(gguf.tensors.map(\.name) == expected.tensors.map(\.name))
        let fileSize = try Fixtures.bytes("tiny.gguf").count
        for (info, want) in zip(gguf.tensors, expected.tensors) {
            #expect(info.type.name == want.type)
            #expect(info.dimensions == want.dims)
            #expect(info.elementCount == want.count)
            #expect(info.byteCount == info.elementCount / info.type.blockSize * info.type.bytesPerBlock)
            #expect(info.offset >= gguf.dataOffset)
            #expect((info.offset - gguf.dataOffset) % 64 == 0)
            #expect(info.offset + info.byteCount <= fileSize)
            #expect(gguf.rawData(of: info).count == info.byteCount)
            #expect(gguf.tensor(named: info.name) == info)
        }
        #expect(gguf.tensor(named: "missing") == nil)
    }

    @Test func versionTwoReadsLikeVersionThree() throws {
        var bytes = try Fixtures.bytes("tiny.gguf")
        patchU32(&bytes, at: 4, 2)
        let directory = try TemporaryDirectory()
        let v2 = try GGUFFile(url: directory.write(bytes))
        let v3 = try GGUFFile(url: Fixtures.url("tiny.gguf"))
        #expect(v2.version == 2)
        #expect(v2.metadata == v3.metadata)
        #expect(v2.tensors == v3.tensors)
        #expect(try v2.floats(named: "q4_k.weight") == v3.floats(named: "q4_k.weight"))
    }

    @Test func defaultAlignmentIs32AndEmptyArraysParse() throws {
        var b = GGUFBuilder()
        b.header(tensorCount: 1, metadataCount: 1)
        b.string("empty")
        b.u32(9)  // array
        b.u32(8)  // of strings
        b.u64(0)
        b.tensorInfo("w", dims: [8], type: 0, offset: 0)
        b.data(count: 32)
        let directory = try TemporaryDirectory()
        let gguf = try GGUFFile(url: directory.write(b.bytes))
        #expect(gguf.alignment == 32)
        #expect(gguf.dataOffset % 32 == 0)
        #expect(gguf.metadata["empty"] == .array([]))
        #expect(gguf.metadata["empty"]?.stringArray == [])
        #expect(try gguf.floats(named: "w").count == 8)
    }

    @Test func zeroTensorsAndZeroMetadata() throws {
        var b = GGUFBuilder()
        b.header(tensorCount: 0, metadataCount: 0)
        let directory = try TemporaryDirectory()
        let gguf = try GGUFFile(url: directory.write(b.bytes))
        #expect(gguf.tensors.isEmpty)
        #expect(gguf.metadata.isEmpty)
    }

    @Test func typeTable() {
        #expect(GGMLType.q4_1.blockSize == 32 && GGMLType.q4_1.bytesPerBlock == 20)
        #expect(GGMLType.q8_0.bytesPerBlock == 34)
        #expect(GGMLType.q4_K.blockSize == 256 && GGMLType.q4_K.bytesPerBlock == 144)
        #expect(GGMLType.q5_K.bytesPerBlock == 176)
        #expect(GGMLType.q6_K.bytesPerBlock == 210)
        #expect(GGMLType.bf16.name == "BF16")
        let dequantizable = GGMLType.allCases.filter(\.isDequantizable)
        #expect(Set(dequantizable) == [.f32, .f16, .bf16, .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q4_K, .q5_K, .q6_K])
        #expect(GGMLType.q4_0.byteCount(elementCount: 33) == nil)
        #expect(GGMLType.q4_0.byteCount(elementCount: 64) == 36)
    }
}
