import Foundation
import Testing

@testable import ModelFiles

/// Corrupted and hostile GGUF files: each must throw the right ``ModelFileError`` kind
/// (naming the field, offset and file) and never crash or allocate absurdly.
@Suite struct GGUFMalformedTests {
    /// Byte offset of the tensor type field in `GGUFBuilder.oneTensor()`: header (24),
    /// the "test.key" u32 entry (8 + 8 + 4 + 4), the name "w" (8 + 1), n_dims (4), two dims (16).
    static let typeField = 24 + (8 + 8 + 4 + 4) + (8 + 1) + 4 + 16

    @Test func truncatedAtEveryHeaderOffsetAndThroughTheData() throws {
        let bytes = try Fixtures.bytes("tiny.gguf")
        let gguf = try GGUFFile(url: Fixtures.url("tiny.gguf"))
        let dataOffset = gguf.dataOffset
        // The writer pads after the last tensor; cutting only that padding leaves a valid file.
        let dataEnd = try #require(gguf.tensors.map { $0.offset + $0.byteCount }.max())
        let directory = try TemporaryDirectory()
        let lengths = Array(0 ..< dataOffset) + Array(stride(from: dataOffset, to: dataEnd, by: 13)) + [dataEnd - 1]
        var kinds: [ModelFileError.Kind: Int] = [:]
        for length in lengths {
            let error = try ggufError(Array(bytes[..<length]), in: directory)
            guard let error else {
                Issue.record("prefix of \(length) bytes opened")
                continue
            }
            kinds[error.kind, default: 0] += 1
            #expect([.truncated, .countTooLarge, .dataOutOfBounds].contains(error.kind), "\(length): \(error)")
            #expect(error.file.hasSuffix("probe.gguf"))
            // A cut file says so, not just which count or range failed (a user's first question).
            if error.kind != .truncated { #expect(error.detail.hasPrefix("the file is truncated or corrupt"), "\(length): \(error)") }
        }
        #expect(kinds[.truncated, default: 0] > 0)
        #expect(kinds[.dataOutOfBounds, default: 0] > 0)
        #expect(try ggufError(bytes, in: directory) == nil)
        #expect(try ggufError(Array(bytes[..<dataEnd]), in: directory) == nil)
    }

    @Test func emptyAndTinyFiles() throws {
        let directory = try TemporaryDirectory()
        let empty = try #require(try ggufError([], in: directory))
        #expect(empty.kind == .truncated)
        #expect(empty.field == "magic")
        let tiny = try #require(try ggufError(Array("GGU".utf8), in: directory))
        #expect(tiny.kind == .truncated && tiny.offset == 0)
    }

    @Test func missingFileIsAnIOError() throws {
        let directory = try TemporaryDirectory()
        let error = try #require(throws: ModelFileError.self) {
            try GGUFFile(url: directory.url.appendingPathComponent("absent.gguf"))
        }
        #expect(error.kind == .io)
        let folder = try #require(throws: ModelFileError.self) { try GGUFFile(url: directory.url) }
        #expect(folder.kind == .io)
    }

    @Test func badMagic() throws {
        var bytes = try Fixtures.bytes("tiny.gguf")
        bytes[0] = UInt8(ascii: "X")
        let error = try #require(try ggufError(bytes, in: TemporaryDirectory()))
        #expect(error.kind == .badMagic)
        #expect(error.offset == 0 && error.field == "magic")
        #expect(error.description.contains("probe.gguf"))
    }

    @Test(arguments: [(UInt32(1), "version 1"), (4, "unsupported GGUF version 4"), (0x0300_0000, "big-endian")])
    func unsupportedVersions(version: UInt32, message: String) throws {
        var bytes = try Fixtures.bytes("tiny.gguf")
        patchU32(&bytes, at: 4, version)
        let error = try #require(try ggufError(bytes, in: TemporaryDirectory()))
        #expect(error.kind == .unsupportedVersion)
        #expect(error.offset == 4 && error.field == "version")
        #expect(error.detail.contains(message))
    }

    @Test(arguments: [(8, "tensor_count"), (16, "metadata_kv_count")])
    func hugeCounts(offset: Int, field: String) throws {
        let directory = try TemporaryDirectory()
        for huge in [UInt64.max, 1 << 40, 1_000_000] {
            var bytes = try Fixtures.bytes("tiny.gguf")
            patchU64(&bytes, at: offset, huge)
            let error = try #require(try ggufError(bytes, in: directory))
            #expect(error.kind == .countTooLarge)
            #expect(error.field == field && error.offset == offset)
        }
    }

    @Test func hugeStringLength() throws {
        var bytes = try Fixtures.bytes("tiny.gguf")
        patchU64(&bytes, at: 24, 1 << 60)  // length of the first metadata key
        let error = try #require(try ggufError(bytes, in: TemporaryDirectory()))
        #expect(error.kind == .countTooLarge)
        #expect(error.offset == 24)
        #expect(error.field == "metadata key #0")
    }

    @Test func hugeArrayLength() throws {
        var b = GGUFBuilder()
        b.header(tensorCount: 0, metadataCount: 1)
        b.string("big")
        b.u32(9)        // array
        b.u32(4)        // of u32
        b.u64(1 << 40)  // absurd length
        b.u32(1)
        let error = try #require(try ggufError(b.bytes, in: TemporaryDirectory()))
        #expect(error.kind == .countTooLarge)
        #expect(error.field == "big")
        #expect(error.offset == 24 + 8 + 3 + 4 + 4)  // the length field
    }

    @Test func unknownValueTypes() throws {
        let directory = try TemporaryDirectory()
        var b = GGUFBuilder()
        b.header(tensorCount: 0, metadataCount: 1)
        b.string("odd")
        b.u32(13)
        b.u32(0)
        let scalar = try #require(try ggufError(b.bytes, in: directory))
        #expect(scalar.kind == .unknownValueType && scalar.field == "odd" && scalar.offset == 35)

        var a = GGUFBuilder()
        a.header(tensorCount: 0, metadataCount: 1)
        a.string("odd.array")
        a.u32(9)
        a.u32(77)
        a.u64(1)
        let element = try #require(try ggufError(a.bytes, in: directory))
        #expect(element.kind == .unknownValueType && element.field == "odd.array")
    }

    @Test func nestingTooDeep() throws {
        var b = GGUFBuilder()
        b.header(tensorCount: 0, metadataCount: 1)
        b.string("deep")
        b.u32(9)
        for _ in 0 ..< 40 {
            b.u32(9)  // element type: array
            b.u64(1)  // one element
        }
        b.u32(4)
        b.u64(0)
        let error = try #require(try ggufError(b.bytes, in: TemporaryDirectory()))
        #expect(error.kind == .invalidValue)
    }

    @Test func invalidUTF8Key() throws {
        var b = GGUFBuilder()
        b.header(tensorCount: 0, metadataCount: 1)
        b.u64(2)
        b.bytes += [0xC3, 0x28]  // invalid UTF-8
        b.u32(0)
        b.u8(1)
        let error = try #require(try ggufError(b.bytes, in: TemporaryDirectory()))
        #expect(error.kind == .invalidString && error.offset == 32)
    }

    @Test func duplicateKeysAndTensors() throws {
        let directory = try TemporaryDirectory()
        var keys = GGUFBuilder()
        keys.header(tensorCount: 0, metadataCount: 2)
        keys.kvUInt32("k", 1)
        keys.kvUInt32("k", 2)
        let key = try #require(try ggufError(keys.bytes, in: directory))
        #expect(key.kind == .duplicateKey && key.field == "k" && key.offset == 24 + 8 + 1 + 4 + 4)

        var tensors = GGUFBuilder()
        tensors.header(tensorCount: 2, metadataCount: 0)
        tensors.tensorInfo("w", dims: [8], type: 0, offset: 0)
        tensors.tensorInfo("w", dims: [8], type: 0, offset: 32)
        tensors.data(count: 64)
        let tensor = try #require(try ggufError(tensors.bytes, in: directory))
        #expect(tensor.kind == .duplicateTensor && tensor.field == "tensor w")
    }

    @Test func unknownTensorTypes() throws {
        let directory = try TemporaryDirectory()
        for code: UInt32 in [4, 5, 31, 99, .max] {
            let error = try #require(try ggufError(GGUFBuilder.oneTensor(type: code), in: directory))
            #expect(error.kind == .unknownTensorType)
            #expect(error.field == "tensor w")
            #expect(error.offset == Self.typeField)
            #expect(error.detail.contains("\(code)"))
        }
    }

    @Test func tensorDataOutsideTheFile() throws {
        let directory = try TemporaryDirectory()
        let offsetField = Self.typeField + 4
        for offset: UInt64 in [1 << 20, UInt64(Int.max) - 31, .max, 32] {
            let error = try #require(try ggufError(GGUFBuilder.oneTensor(offset: offset), in: directory))
            #expect(error.kind == .dataOutOfBounds, "offset \(offset): \(error)")
            #expect(error.offset == offsetField && error.field == "tensor w")
        }
        let misaligned = try #require(try ggufError(GGUFBuilder.oneTensor(offset: 4, dataBytes: 64), in: directory))
        #expect(misaligned.kind == .dataOutOfBounds && misaligned.detail.contains("alignment"))
        // Data one byte short of the tensor's 32 bytes.
        let short = try #require(try ggufError(GGUFBuilder.oneTensor(dataBytes: 31), in: directory))
        #expect(short.kind == .dataOutOfBounds)
    }

    @Test func invalidShapes() throws {
        let directory = try TemporaryDirectory()
        let cases: [[UInt64]] = [
            [1 << 32, 1 << 32, 1 << 32],  // product overflows Int
            [.max],                        // extent above Int.max
            [1, 1, 1, 1, 1],               // more than GGML_MAX_DIMS
        ]
        for dims in cases {
            let error = try #require(try ggufError(GGUFBuilder.oneTensor(dims: dims), in: directory))
            #expect(error.kind == .invalidShape, "\(dims): \(error)")
            #expect(error.field == "tensor w")
        }
        // A Q4_0 row of 33 elements is not whole blocks.
        let rows = try #require(try ggufError(GGUFBuilder.oneTensor(dims: [33], type: 2), in: directory))
        #expect(rows.kind == .invalidShape)
        // Large but representable products are caught by the bounds check, not allocated.
        let big = try #require(try ggufError(GGUFBuilder.oneTensor(dims: [1 << 30, 1 << 30]), in: directory))
        #expect(big.kind == .dataOutOfBounds)
    }

    @Test func badAlignment() throws {
        let directory = try TemporaryDirectory()
        for value: UInt32 in [0, 3, 48, 1 << 30] {
            var b = GGUFBuilder()
            b.header(tensorCount: 0, metadataCount: 1)
            b.kvUInt32("general.alignment", value)
            let error = try #require(try ggufError(b.bytes, in: directory))
            #expect(error.kind == .invalidValue && error.field == "general.alignment")
        }
    }

    /// Seeded byte flips anywhere in the header: the reader either opens the file or throws a
    /// ModelFileError, and anything it opens can be dequantized without crashing.
    @Test func randomCorruptionNeverCrashes() throws {
        let original = try Fixtures.bytes("tiny.gguf")
        let headerEnd = try GGUFFile(url: Fixtures.url("tiny.gguf")).dataOffset
        let directory = try TemporaryDirectory()
        var generator = SplitMix64(seed: 7)
        var opened = 0
        for _ in 0 ..< 300 {
            var bytes = original
            for _ in 0 ..< Int.random(in: 1 ... 4, using: &generator) {
                let position = Int.random(in: 0 ..< headerEnd, using: &generator)
                bytes[position] = UInt8.random(in: 0 ... 255, using: &generator)
            }
            let url = try directory.write(bytes, name: "fuzz.gguf")
            do {
                let gguf = try GGUFFile(url: url)
                opened += 1
                for info in gguf.tensors where info.type.isDequantizable {
                    #expect(try gguf.floats(of: info).count == info.elementCount)
                }
            } catch is ModelFileError {
                continue
            }
        }
        #expect(opened > 0)
    }
}
