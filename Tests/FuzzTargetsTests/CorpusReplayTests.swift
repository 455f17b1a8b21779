import Foundation
import FuzzTargets
import Testing

/// Replays the committed fuzz corpus and every crash the fuzzer found (fuzz/crashes/<format>/, kept
/// as regression cases) through the fuzzer's own entry points: each must be parsed or refused with
/// an error, never crash. The seeds are valid files, so each format also accepts its seeds.
@Suite(.serialized) struct CorpusReplayTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("fuzz")

    static func files(_ folder: String, _ format: FuzzFormat) -> [URL] {
        let directory = root.appendingPathComponent(folder).appendingPathComponent(format.rawValue)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().map { directory.appendingPathComponent($0) }
    }

    @Test(arguments: FuzzFormat.allCases)
    func seedsAreAcceptedAndCrashesStayFixed(format: FuzzFormat) throws {
        let seeds = Self.files("corpus", format)
        #expect(!seeds.isEmpty, "no seed corpus for \(format.rawValue)")
        for seed in seeds {
            #expect(format.run(try Data(contentsOf: seed)), "\(seed.lastPathComponent) is a valid \(format.rawValue) but was refused")
        }
        for crash in Self.files("crashes", format) {
            _ = format.run(try Data(contentsOf: crash))  // returning at all is the test
        }
        FuzzFormat.removeScratchFiles()
    }

    @Test(arguments: FuzzFormat.allCases)
    func cutAndFlippedSeedsAreRefusedOrParsedNeverCrash(format: FuzzFormat) throws {
        // A deterministic sample of what the fuzzer does, so every `swift test` covers some of it.
        for seed in Self.files("corpus", format) {
            let bytes = [UInt8](try Data(contentsOf: seed))
            for cut in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 97)) { _ = format.run(Data(bytes[..<cut])) }
            var state: UInt64 = 0x9E37_79B9_7F4A_7C15
            for _ in 0..<200 where !bytes.isEmpty {
                var mutated = bytes
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                let index = Int(state >> 33) % mutated.count
                mutated[index] ^= UInt8(truncatingIfNeeded: state >> 17) | 1
                _ = format.run(Data(mutated))
            }
        }
        FuzzFormat.removeScratchFiles()
    }
}
