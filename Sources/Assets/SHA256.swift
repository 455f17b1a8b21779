import Foundation

/// A streaming SHA-256 (FIPS 180-4) written in plain Swift.
///
/// We verify every downloaded wheel with it. It lives here instead of coming from
/// swift-crypto because that package compiles BoringSSL, which costs minutes per clean build.
///
/// ```swift
/// var hasher = SHA256()
/// hasher.update(bytes: someBuffer)
/// let hex = hasher.finalize().hexString
/// // or, for a file, read in 1 MiB chunks:
/// let digest = try SHA256.hexDigest(ofFileAt: wheelURL)
/// ```
///
/// The compression loop works on unsafe raw pointers, and its message schedule lives in a
/// stack buffer, so hashing runs at hundreds of MB/s in release builds.
// reference: NIST FIPS 180-4, "Secure Hash Standard", sections 4.1.2, 4.2.2, 5.1.1, 6.2.
public struct SHA256: Sendable {
    /// Size of one digest in bytes.
    public static let digestByteCount = 32
    /// Size of the chunks `hexDigest(ofFileAt:)` reads: 1 MiB.
    public static let fileChunkByteCount = 1 << 20

    private var state = State()
    /// Bytes received that do not yet fill a 64-byte block (always fewer than 64).
    private var pending: [UInt8] = []
    /// Total message length in bytes.
    private var byteCount: UInt64 = 0

    /// Creates a hasher in the initial state.
    public init() {
        pending.reserveCapacity(64)
    }

    /// Feeds bytes into the hash.
    public mutating func update(bytes: UnsafeRawBufferPointer) {
        guard var base = bytes.baseAddress, bytes.count > 0 else { return }
        var remaining = bytes.count
        byteCount &+= UInt64(remaining)

        // Top up a partial block first.
        if !pending.isEmpty {
            let take = min(64 - pending.count, remaining)
            pending.append(contentsOf: UnsafeRawBufferPointer(start: base, count: take))
            base += take
            remaining -= take
            if pending.count == 64 {
                pending.withUnsafeBytes { block in
                    if let start = block.baseAddress { state.compress(blocks: start, count: 1) }
                }
                pending.removeAll(keepingCapacity: true)
            }
        }
        // Whole blocks straight from the caller's memory.
        let blockCount = remaining / 64
        if blockCount > 0 {
            state.compress(blocks: base, count: blockCount)
            base += blockCount * 64
            remaining -= blockCount * 64
        }
        if remaining > 0 {
            pending.append(contentsOf: UnsafeRawBufferPointer(start: base, count: remaining))
        }
    }

    /// Feeds the bytes of `data` into the hash.
    public mutating func update(data: some DataProtocol) {
        for region in data.regions {
            region.withUnsafeBytes { update(bytes: $0) }
        }
    }

    /// Returns the 32-byte digest of everything fed so far; the hasher itself is unchanged.
    public func finalize() -> SHA256Digest {
        var copy = self
        let bitLength = byteCount &* 8
        // Padding: 0x80, zeros up to 56 mod 64, then the length in bits as a big-endian UInt64.
        var padding: [UInt8] = [0x80]
        let afterMarker = Int((byteCount &+ 1) % 64)
        let zeroCount = afterMarker <= 56 ? 56 - afterMarker : 120 - afterMarker
        padding.append(contentsOf: repeatElement(0, count: zeroCount))
        for shift in stride(from: 56, through: 0, by: -8) {
            padding.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift)))
        }
        padding.withUnsafeBytes { copy.update(bytes: $0) }

        var out = [UInt8]()
        out.reserveCapacity(Self.digestByteCount)
        let s = copy.state
        for word in [s.h0, s.h1, s.h2, s.h3, s.h4, s.h5, s.h6, s.h7] {
            out.append(UInt8(truncatingIfNeeded: word >> 24))
            out.append(UInt8(truncatingIfNeeded: word >> 16))
            out.append(UInt8(truncatingIfNeeded: word >> 8))
            out.append(UInt8(truncatingIfNeeded: word))
        }
        return SHA256Digest(bytes: out)
    }

    /// The digest of `data` in one call.
    public static func hash(data: some DataProtocol) -> SHA256Digest {
        var hasher = SHA256()
        hasher.update(data: data)
        return hasher.finalize()
    }

    /// The lowercase hex digest of the file at `url`, read in 1 MiB chunks.
    ///
    /// - Throws: ``AssetError/fileSystem(operation:path:reason:)`` when the file cannot be opened or read.
    public static func hexDigest(ofFileAt url: URL) throws(AssetError) -> String {
        let handle: FileHandle
        do {
            handle = try FileHandle(forReadingFrom: url)
        } catch {
            throw .fileSystem(operation: "open for hashing", path: url.path, reason: "\(error)")
        }
        defer { try? handle.close() }
        var hasher = SHA256()
        while true {
            let chunk: Data?
            do {
                chunk = try handle.read(upToCount: fileChunkByteCount)
            } catch {
                throw .fileSystem(operation: "read for hashing", path: url.path, reason: "\(error)")
            }
            guard let chunk, !chunk.isEmpty else { break }
            chunk.withUnsafeBytes { hasher.update(bytes: $0) }
        }
        return hasher.finalize().hexString
    }
}

// MARK: - Compression

/// The eight working words of the hash and the compression function that updates them.
private struct State: Sendable {
    var h0: UInt32 = 0x6a09_e667, h1: UInt32 = 0xbb67_ae85
    var h2: UInt32 = 0x3c6e_f372, h3: UInt32 = 0xa54f_f53a
    var h4: UInt32 = 0x510e_527f, h5: UInt32 = 0x9b05_688c
    var h6: UInt32 = 0x1f83_d9ab, h7: UInt32 = 0x5be0_cd19

    /// Round constants: first 32 bits of the fractional parts of the cube roots of the first 64 primes.
    private static let roundConstants: [UInt32] = [
        0x428a_2f98, 0x7137_4491, 0xb5c0_fbcf, 0xe9b5_dba5, 0x3956_c25b, 0x59f1_11f1, 0x923f_82a4, 0xab1c_5ed5,
        0xd807_aa98, 0x1283_5b01, 0x2431_85be, 0x550c_7dc3, 0x72be_5d74, 0x80de_b1fe, 0x9bdc_06a7, 0xc19b_f174,
        0xe49b_69c1, 0xefbe_4786, 0x0fc1_9dc6, 0x240c_a1cc, 0x2de9_2c6f, 0x4a74_84aa, 0x5cb0_a9dc, 0x76f9_88da,
        0x983e_5152, 0xa831_c66d, 0xb003_27c8, 0xbf59_7fc7, 0xc6e0_0bf3, 0xd5a7_9147, 0x06ca_6351, 0x1429_2967,
        0x27b7_0a85, 0x2e1b_2138, 0x4d2c_6dfc, 0x5338_0d13, 0x650a_7354, 0x766a_0abb, 0x81c2_c92e, 0x9272_2c85,
        0xa2bf_e8a1, 0xa81a_664b, 0xc24b_8b70, 0xc76c_51a3, 0xd192_e819, 0xd699_0624, 0xf40e_3585, 0x106a_a070,
        0x19a4_c116, 0x1e37_6c08, 0x2748_774c, 0x34b0_bcb5, 0x391c_0cb3, 0x4ed8_aa4a, 0x5b9c_ca4f, 0x682e_6ff3,
        0x748f_82ee, 0x78a5_636f, 0x84c8_7814, 0x8cc7_0208, 0x90be_fffa, 0xa450_6ceb, 0xbef9_a3f7, 0xc671_78f2,
    ]

    @inline(__always)
    private static func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x &>> n) | (x &<< (32 &- n)) }

    /// One round with the variables renamed instead of shifted: `d += T1`, `h = T1 + T2`.
    @inline(__always)
    private static func round(_ a: UInt32, _ b: UInt32, _ c: UInt32, _ d: inout UInt32,
                              _ e: UInt32, _ f: UInt32, _ g: UInt32, _ h: inout UInt32, _ kw: UInt32) {
        let t1 = h &+ (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) &+ ((e & f) ^ (~e & g)) &+ kw
        let t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) &+ ((a & b) ^ (a & c) ^ (b & c))
        d = d &+ t1
        h = t1 &+ t2
    }

    /// Runs the compression function over `count` consecutive 64-byte blocks at `blocks`.
    mutating func compress(blocks: UnsafeRawPointer, count: Int) {
        // Chaining value in locals for the whole run (H0...H7 in the standard).
        var ha = h0, hb = h1, hc = h2, hd = h3, he = h4, hf = h5, hg = h6, hh = h7
        Self.roundConstants.withUnsafeBufferPointer { k in
            withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 64) { w in
                for block in 0..<count {
                    let p = blocks + block &* 64
                    // Message schedule (6.2.2 step 1).
                    for t in 0..<16 {
                        w[t] = UInt32(bigEndian: p.loadUnaligned(fromByteOffset: t &* 4, as: UInt32.self))
                    }
                    for t in 16..<64 {
                        let x = w[t &- 15], y = w[t &- 2]
                        let s0 = Self.rotr(x, 7) ^ Self.rotr(x, 18) ^ (x &>> 3)
                        let s1 = Self.rotr(y, 17) ^ Self.rotr(y, 19) ^ (y &>> 10)
                        w[t] = w[t &- 16] &+ s0 &+ w[t &- 7] &+ s1
                    }
                    // 64 rounds (6.2.2 steps 2-3).
                    var a = ha, b = hb, c = hc, d = hd, e = he, f = hf, g = hg, h = hh
                    var t = 0
                    while t < 64 {
                        Self.round(a, b, c, &d, e, f, g, &h, k[t] &+ w[t])
                        Self.round(h, a, b, &c, d, e, f, &g, k[t &+ 1] &+ w[t &+ 1])
                        Self.round(g, h, a, &b, c, d, e, &f, k[t &+ 2] &+ w[t &+ 2])
                        Self.round(f, g, h, &a, b, c, d, &e, k[t &+ 3] &+ w[t &+ 3])
                        Self.round(e, f, g, &h, a, b, c, &d, k[t &+ 4] &+ w[t &+ 4])
                        Self.round(d, e, f, &g, h, a, b, &c, k[t &+ 5] &+ w[t &+ 5])
                        Self.round(c, d, e, &f, g, h, a, &b, k[t &+ 6] &+ w[t &+ 6])
                        Self.round(b, c, d, &e, f, g, h, &a, k[t &+ 7] &+ w[t &+ 7])
                        t &+= 8
                    }
                    // Intermediate hash value (6.2.2 step 4).
                    ha = ha &+ a; hb = hb &+ b; hc = hc &+ c; hd = hd &+ d
                    he = he &+ e; hf = hf &+ f; hg = hg &+ g; hh = hh &+ h
                }
            }
        }
        h0 = ha; h1 = hb; h2 = hc; h3 = hd; h4 = he; h5 = hf; h6 = hg; h7 = hh
    }
}

/// A 32-byte SHA-256 digest.
public struct SHA256Digest: Sendable, Hashable, CustomStringConvertible {
    /// The 32 digest bytes.
    public let bytes: [UInt8]

    /// The digest as 64 lowercase hex digits, the form PyPI and `sha256sum` print.
    public var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Same as ``hexString``.
    public var description: String { hexString }
}
