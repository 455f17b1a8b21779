import ArgumentParser
import Engine
import Foundation
import Logging
import Tokenizers

/// `fedguard bench ...`: performance measurements against peers.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Benchmarks that print FedGuard's figure beside a peer's.",
        subcommands: [BenchGenerateCommand.self, BenchTrainCommand.self, BenchFilterCommand.self])
}

/// `fedguard bench generate`: decode, prefill and batched generation speed, optionally beside transformers.
struct BenchGenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Single-stream decode, prefill and batched generation throughput (and peak memory).")

    @OptionGroup var engine: EngineOptions

    @Option(help: "Prompt set (JSON with `single`, `prefill`, `prefill_tokens` and `prompts`).")
    var prompts: String = "benchmarks/prompts.json"

    @Option(help: "Prompts generated at once in the batched test.")
    var batch: Int = 32

    @Option(help: "New tokens per prompt in the batched test.")
    var newTokens: Int = 64

    @Option(help: "New tokens in the single-stream decode test.")
    var decodeTokens: Int = 128

    @Flag(help: "Also run the transformers peer (scripts/peer_generate.py) and print the ratios.")
    var peer = false

    @Flag(help: "Also decode single-stream with the file's weights dequantized to float32 only (loaded without its quantized rows) and print the quantized / float ratio.")
    var floatPeer = false

    @Option(help: "Python interpreter for the peer.")
    var python: String = "python3"

    func validate() throws {
        guard batch > 0, newTokens > 0, decodeTokens > 1 else {
            throw ValidationError("--batch, --new-tokens must be positive and --decode-tokens > 1")
        }
    }

    func run() throws {
        let logger = engine.prepare()
        let set = try BenchPrompts.load(path: prompts)
        let modelURL = try engine.modelURL(logger: logger)
        // The float32-only copy first, released before the model under test loads: a 1.5B model
        // twice in memory (7 GB each) does not fit beside other work.
        var floatParameters = GenerationParameters(maxNewTokens: decodeTokens)
        floatParameters.stopAtEndTokens = false
        let floatRate = floatPeer
            ? try Self.floatDecodeRate(modelURL: modelURL, message: set.single, parameters: floatParameters, logger: logger) : nil
        let loadStart = Date()
        let model = try ModelLoader.load(from: modelURL, logger: logger)
        model.makeFloatCopies(for: .inference)  // prefill and batches read them: made within the load's time, as the peer's are
        let loadSeconds = Date().timeIntervalSince(loadStart)
        let tok = try model.requireTokenizer()
        let generator = Generator(model: model, logger: logger)
        func chat(_ text: String) throws -> [Int] { try tok.encodeChat([ChatMessage(role: .user, content: text)]) }

        // Prefill: one forward over the passage, median of 3.
        let passage = Array(try chat(set.prefill).prefix(set.prefillTokens ?? 256))
        var prefillTimes: [Double] = []
        for _ in 0..<3 {
            let cache = model.makeCache(capacity: passage.count)
            let t0 = Date()
            _ = try model.forward([ForwardRequest(tokens: passage, cache: cache)])
            prefillTimes.append(Date().timeIntervalSince(t0))
        }
        let prefillRate = Double(passage.count) / prefillTimes.sorted()[1]
        Console.err(String(format: "prefill: %d tokens, %.1f tokens/s", passage.count, prefillRate))

        // Single-stream greedy decode, end tokens ignored so every run decodes the same count.
        var params = GenerationParameters(maxNewTokens: decodeTokens)
        params.stopAtEndTokens = false
        var single = GenerationTimings(), singleInt8 = GenerationTimings()
        _ = try generator.generate(prompts: [try chat(set.single)], parameters: params, timings: &single)
        Console.err(String(format: "decode (exact): %d tokens, %.1f tokens/s", single.generatedTokens, single.decodeTokensPerSecond))
        params.arithmetic = .int8
        _ = try generator.generate(prompts: [try chat(set.single)], parameters: params, timings: &singleInt8)
        Console.err(String(format: "decode (int8): %d tokens, %.1f tokens/s", singleInt8.generatedTokens, singleInt8.decodeTokensPerSecond))

        // Batched: `batch` prompts of different lengths, `newTokens` each, wall time including prefill;
        // once with exact arithmetic, once with int8 activations.
        let batchPrompts = try (0..<batch).map { try chat(set.batched[$0 % set.batched.count]) }
        params.maxNewTokens = newTokens
        var batchedRates: [Arithmetic: Double] = [:]
        for arithmetic in Arithmetic.allCases {
            params.arithmetic = arithmetic
            var batchTimings = GenerationTimings()
            let t0 = Date()
            let results = try generator.generate(prompts: batchPrompts, parameters: params, timings: &batchTimings)
            let wall = Date().timeIntervalSince(t0)
            let generated = results.reduce(0) { $0 + $1.generatedIDs.count }
            batchedRates[arithmetic] = Double(generated) / wall
            Console.err(String(format: "batched (%@): %d prompts (%d prompt tokens, the first %d shared by all) x %d new tokens in %.1fs (prefill %.1fs, decode %.1fs), %.1f tokens/s",
                               arithmetic.rawValue, batch, batchTimings.promptTokens, batchTimings.sharedPrefixTokens, newTokens,
                               wall, batchTimings.prefillSeconds, batchTimings.decodeSeconds, Double(generated) / wall))
        }

        let ours = BenchFigures(load: loadSeconds, prefill: prefillRate, decode: single.decodeTokensPerSecond,
                                batched: batchedRates[.exact] ?? 0, peakMB: PeakMemory.residentMB(),
                                int8: (singleInt8.decodeTokensPerSecond, batchedRates[.int8] ?? 0))
        Console.out(KernelReport.current().isaLine)
        Console.out("threads: \(Parallel.threadCount)  model: \(modelURL.lastPathComponent)")
        Console.out(ours.row(name: "fedguard"))
        if let floatRate {
            Console.out(String(format: "ratio quantized/float32 (same file, single-stream decode): %.1f vs %.1f tok/s = %.2fx",
                               single.decodeTokensPerSecond, floatRate, single.decodeTokensPerSecond / floatRate))
        }
        guard peer else { return }

        Console.err("running the transformers peer (a few minutes) ...")
        let theirs = try PeerRunner.run(python: python, gguf: modelURL.path, threads: Parallel.threadCount,
                                        batch: batch, newTokens: newTokens, decodeTokens: decodeTokens, prompts: prompts)
        Console.out(theirs.figures.row(name: "transformers"))
        if let cpp = theirs.llamaCppDecode {
            Console.out(String(format: "llama.cpp     decode %7.1f tok/s  (ours / llama.cpp = %.2fx exact, %.2fx int8)",
                               cpp, ours.decode / cpp, (ours.int8?.decode ?? 0) / cpp))
        }
        let int8Ratio = ours.int8.map { String(format: "; int8: decode %.2fx, batched %.1f vs %.1f tok/s = %.2fx",
                                               $0.decode / theirs.figures.decode, $0.batched, theirs.figures.batched,
                                               $0.batched / theirs.figures.batched) } ?? ""
        Console.out(String(format: "ratio fedguard/transformers: decode %.1f vs %.1f tok/s = %.2fx; prefill %.2fx; batched exact %.1f vs %.1f tok/s = %.2fx",
                           ours.decode, theirs.figures.decode, ours.decode / theirs.figures.decode,
                           ours.prefill / theirs.figures.prefill,
                           ours.batched, theirs.figures.batched, ours.batched / theirs.figures.batched) + int8Ratio)
    }
}

extension BenchGenerateCommand {
    /// Single-stream decode tokens/s of the file loaded with float32 weights only (what the engine
    /// ran before it had products for the file's quantized type).
    static func floatDecodeRate(modelURL: URL, message: String, parameters: GenerationParameters, logger: Logger) throws -> Double {
        let model = try ModelLoader.load(from: modelURL, options: .init(keepQuantizedWeights: false), logger: logger)
        let prompt = try model.requireTokenizer().encodeChat([ChatMessage(role: .user, content: message)])
        var timings = GenerationTimings()
        _ = try Generator(model: model, logger: logger).generate(prompts: [prompt], parameters: parameters, timings: &timings)
        Console.err(String(format: "decode (float32 weights only): %d tokens, %.1f tokens/s", timings.generatedTokens, timings.decodeTokensPerSecond))
        return timings.decodeTokensPerSecond
    }
}

/// One side's figures.
struct BenchFigures {
    var load, prefill, decode, batched, peakMB: Double
    /// Decode and batched throughput with int8 activations (`Arithmetic.int8`; the peer has no such mode).
    var int8: (decode: Double, batched: Double)?

    func row(name: String) -> String {
        String(format: "%-13@ load %5.2fs  prefill %7.1f tok/s  decode %6.1f tok/s  batched %7.1f tok/s  peak %6.0f MiB",
               name as NSString, load, prefill, decode, batched, peakMB)
            + (int8.map { String(format: "  int8: decode %6.1f tok/s  batched %7.1f tok/s", $0.decode, $0.batched) } ?? "")
    }
}

/// The benchmark prompt file.
struct BenchPrompts: Decodable {
    var single: String
    var prefill: String
    var batched: [String]
    var prefillTokens: Int?

    enum CodingKeys: String, CodingKey {
        case single, prefill, batched = "prompts", prefillTokens = "prefill_tokens"
    }

    static func load(path: String) throws -> BenchPrompts {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("cannot read \(path); run from the repository root or pass --prompts PATH")
        }
        do {
            let p = try JSONDecoder().decode(BenchPrompts.self, from: data)
            guard !p.batched.isEmpty else { throw ValidationError("\(path): `prompts` is empty") }
            return p
        } catch let e as ValidationError {
            throw e
        } catch {
            throw ValidationError("\(path) is not a prompt set ({\"single\", \"prefill\", \"prompts\": [...]}): \(error)")
        }
    }
}

/// Peak resident memory of this process.
enum PeakMemory {
    static func residentMB() -> Double {
        var usage = rusage()
        getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
        return Double(usage.ru_maxrss) / 1024  // Linux reports KiB
    }
}

/// Runs `scripts/peer_generate.py` and reads its JSON.
enum PeerRunner {
    struct Result {
        var figures: BenchFigures
        var llamaCppDecode: Double?
    }

    static func run(python: String, gguf: String, threads: Int, batch: Int, newTokens: Int, decodeTokens: Int, prompts: String) throws -> Result {
        let script = "scripts/peer_generate.py"
        guard FileManager.default.fileExists(atPath: script) else {
            throw ValidationError("\(script) not found; run from the repository root")
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [python, script, "--gguf", gguf, "--threads", "\(threads)", "--batch", "\(batch)",
                       "--new-tokens", "\(newTokens)", "--decode-tokens", "\(decodeTokens)", "--prompts", prompts]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0,
              let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ValidationError("the peer script failed (exit \(p.terminationStatus)); install torch/transformers/gguf as the README's benchmark section says")
        }
        func num(_ k: String) -> Double { (obj[k] as? NSNumber)?.doubleValue ?? .nan }
        return Result(
            figures: BenchFigures(load: num("load_s"), prefill: num("prefill_tokens_per_s"), decode: num("decode_tokens_per_s"),
                                  batched: num("batched_tokens_per_s"), peakMB: num("peak_rss_mb")),
            llamaCppDecode: (obj["llama_cpp_decode_tokens_per_s"] as? NSNumber)?.doubleValue)
    }
}
