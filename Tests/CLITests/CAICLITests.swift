import Foundation
import Testing

/// `fedguard cai` and the run's `cai:` section: bad settings and bad constitution files stop the
/// command before any model or asset is touched, with the key (and file) named.
@Suite struct CAICLITests {
    @Test func badSettingsNameTheKey() throws {
        let r = try CLITests.run(["cai", "--out", "/tmp/unused-cai", "--model", CLITests.tinyModel, "--set", "cai.candidates=0"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("cai.candidates"), "\(r.stderr)")
        let source = try CLITests.run(["cai", "--out", "/tmp/unused-cai", "--model", CLITests.tinyModel, "--set", "cai.benign_answers=base"])
        #expect(source.status != 0)
        #expect(source.stderr.contains("benign_answers"), "\(source.stderr)")
        let other = try CLITests.run(["cai", "--out", "/tmp/unused-cai", "--set", "rounds=3"])
        #expect(other.status != 0)
        #expect(other.stderr.contains("cai and lora keys only"), "\(other.stderr)")
        // lora keys shape the fresh adapter: a bad value names its key, and an adapter given with
        // --adapter keeps its own shape, so setting one beside it is refused.
        let rank = try CLITests.run(["cai", "--out", "/tmp/unused-cai", "--model", CLITests.tinyModel, "--set", "lora.rank=0"])
        #expect(rank.status != 0)
        #expect(rank.stderr.contains("lora.rank"), "\(rank.stderr)")
        let both = try CLITests.run(["cai", "--out", "/tmp/unused-cai", "--adapter", "/tmp/unused-adapter", "--set", "lora.targets=[q_proj]"])
        #expect(both.status != 0)
        #expect(both.stderr.contains("keeps its own configuration"), "\(both.stderr)")
    }

    @Test func aConstitutionMissingAKeyNamesFileAndKey() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("constitution-\(UUID().uuidString).yaml")
        try "name: broken\nprinciples:\n  - id: a\n    applies_to: any\n    critique: c\nexemplars: []\n".write(to: url, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: url) }
        let r = try CLITests.run(["cai", "--out", "/tmp/unused-cai", "--model", CLITests.tinyModel, "--set", "cai.constitution=\(url.path)"])
        #expect(r.status != 0)
        #expect(r.stderr.contains(url.path) && r.stderr.contains("principles[0].revision"), "\(r.stderr)")
    }

    @Test func configShowListsTheCAISection() throws {
        let r = try CLITests.run(["config", "show"])
        #expect(r.status == 0)
        for key in ["cai:", "mode: \"off\"", "placement: server", "candidates:", "benign_answers: current", "max_update_norm:"] {
            #expect(r.stdout.contains(key), "missing \(key)")
        }
    }
}
