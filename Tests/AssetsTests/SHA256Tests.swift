import Foundation
import Testing

import Assets

@Suite("SHA-256")
struct SHA256Tests {
    // reference: NIST FIPS 180-4 examples / "Secure Hashing" test vectors.
    static let vectors: [(message: String, digest: String)] = [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ]
    static let millionAs = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"

    @Test("NIST short vectors", arguments: 0..<3)
    func shortVectors(index: Int) {
        let (message, digest) = Self.vectors[index]
        #expect(SHA256.hash(data: Array(message.utf8)).hexString == digest)
    }

    @Test("one million 'a', fed in uneven pieces")
    func millionAInPieces() {
        let message = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        #expect(SHA256.hash(data: message).hexString == Self.millionAs)

        // Piece sizes that straddle the 64-byte block boundary in every way.
        var hasher = SHA256()
        var offset = 0
        var size = 1
        while offset < message.count {
            let end = min(offset + size, message.count)
            message[offset..<end].withUnsafeBytes { hasher.update(bytes: $0) }
            offset = end
            size = size % 131 + 7
        }
        #expect(hasher.finalize().hexString == Self.millionAs)
    }

    @Test("padding edge lengths agree between one-shot and byte-by-byte", arguments: [55, 56, 63, 64, 65, 119, 120, 128])
    func paddingEdges(length: Int) {
        let message = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        var hasher = SHA256()
        for byte in message { withUnsafeBytes(of: byte) { hasher.update(bytes: $0) } }
        #expect(hasher.finalize() == SHA256.hash(data: message))
    }

    @Test("hashing a file crosses the 1 MiB read chunks correctly")
    func fileHash() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("fg-sha-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: url) }
        try Data(repeating: UInt8(ascii: "a"), count: 1_000_000).write(to: url)
        #expect(try SHA256.hexDigest(ofFileAt: url) == Self.millionAs)

        let big = Data((0..<(SHA256.fileChunkByteCount * 2 + 12345)).map { UInt8(truncatingIfNeeded: $0 ^ ($0 >> 9)) })
        try big.write(to: url)
        #expect(try SHA256.hexDigest(ofFileAt: url) == SHA256.hash(data: big).hexString)
    }

    @Test("a missing file is a typed file-system error")
    func missingFile() {
        #expect(throws: AssetError.self) {
            try SHA256.hexDigest(ofFileAt: URL(fileURLWithPath: "/nonexistent/fedguard/file.whl"))
        }
    }
}
