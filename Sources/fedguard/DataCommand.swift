import ArgumentParser
import Assets
import Engine
import Foundation
import Logging
import Simulation

/// `fedguard data ...`: federated client data sets.
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data", abstract: "Build federated client data sets.",
        subcommands: [DataBuildCommand.self])
}

/// `fedguard data build`: one chat JSONL per client plus `manifest.json`.
struct DataBuildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build", abstract: "Write one JSONL per client with a fixed harmful fraction, plus manifest.json.",
        discussion: """
        Harmful samples are PyRIT's harmful (prompt, compliant response) pairs: many-shot examples judged \
        harmful and scorer-eval rows with human score 1. Benign samples are generated prompts (writing, \
        explanation, coding, maths, advice, summarising) answered greedily by the base model; the responses \
        are cached under $FEDGUARD_HOME/cache/benign-responses and reused by later builds. Anything copying \
        an AdvBench goal is dropped (counts in the manifest). Each client gets K samples, round(F·K) of \
        them harmful. The default K of 24 with 20 clients needs about 340 benign responses: a few minutes \
        on two cores the first time. When the harmful pool is smaller than clients × round(F·K), harmful \
        items are reused across clients (never twice in one client) unless --on-harmful-shortage fail.
        """)

    @OptionGroup var engine: EngineOptions

    @Option(help: "Number of clients (>= 1).")
    var clients: Int = 20

    @Option(help: "Harmful fraction of every client's samples, in [0, 1].")
    var harmfulFraction: Double = 0.3

    @Option(help: ArgumentHelp("Samples per client (>= 1), or 'all' to use the whole harmful pool (many more benign responses to generate).", valueName: "k|all"))
    var samplesPerClient: String = String(ClientDataParameters.defaultSamplesPerClient)

    @Option(help: "How samples spread over clients: iid or dirichlet (label skew over harm category / benign task).")
    var partition: String = "iid"

    @Option(help: "Dirichlet concentration (> 0; small = strong skew; default 0.5). Only with --partition dirichlet.")
    var alpha: Double?

    @Option(help: "Seed of every random choice of the split.")
    var seed: UInt64 = 0

    @Option(help: "Output directory.")
    var out: String

    @Option(help: "Most new tokens per benign response (greedy).")
    var maxResponseTokens: Int = 128

    @Option(help: "Benign prompts generated together.")
    var batch: Int = 32

    @Option(help: "Seed of the benign prompt set (responses are cached per seed).")
    var benignSeed: UInt64 = ClientDataPipeline.defaultBenignPromptSeed

    @Option(help: "Directory laid out like the extracted pyrit-1.1.0 package (default: the asset cache, fetched on first use).")
    var harmfulSource: String?

    @Option(help: "When the harmful pool runs out: reuse (across clients, recorded in the manifest) or fail.")
    var onHarmfulShortage: String = HarmfulShortagePolicy.reuse.rawValue

    @Flag(help: "Add PyRIT refusals (harmful requests answered safely, human score 0) to the non-harmful pool.")
    var includeRefusals = false

    func parameters() throws -> ClientDataParameters {
        let k: Int?
        if samplesPerClient.lowercased() == "all" {
            k = nil
        } else if let value = Int(samplesPerClient), value >= 1 {
            k = value
        } else {
            throw ValidationError("--samples-per-client must be an integer >= 1 or 'all' (got '\(samplesPerClient)')")
        }
        let scheme: ClientDataPartition
        switch partition.lowercased() {
        case "iid":
            if alpha != nil { throw ValidationError("--alpha only applies to --partition dirichlet (got --partition iid)") }
            scheme = .iid
        case "dirichlet":
            scheme = .dirichlet(alpha: alpha ?? 0.5)
        default:
            throw ValidationError("--partition must be one of iid, dirichlet (got '\(partition)')")
        }
        guard let policy = HarmfulShortagePolicy(rawValue: onHarmfulShortage.lowercased()) else {
            throw ValidationError("--on-harmful-shortage must be one of "
                + "\(HarmfulShortagePolicy.allCases.map(\.rawValue).joined(separator: ", ")) (got '\(onHarmfulShortage)')")
        }
        let p = ClientDataParameters(clientCount: clients, harmfulFraction: harmfulFraction, samplesPerClient: k,
                                     partition: scheme, seed: seed, shortagePolicy: policy)
        do { try p.validate() } catch { throw ValidationError(error.description) }
        return p
    }

    func validate() throws {
        _ = try parameters()
        guard maxResponseTokens >= 1 else { throw ValidationError("--max-response-tokens must be >= 1 (got \(maxResponseTokens))") }
        guard batch >= 1 else { throw ValidationError("--batch must be >= 1 (got \(batch))") }
    }

    func run() throws {
        let logger = engine.prepare()
        let parameters = try parameters()
        let pyritRoot: URL
        if let harmfulSource {
            pyritRoot = URL(fileURLWithPath: (harmfulSource as NSString).expandingTildeInPath)
        } else {
            pyritRoot = try AssetStore(logger: logger).ensure(AssetCatalog.pyrit) { Console.reportAsset($0) }
        }
        let modelURL = try engine.modelURL(logger: logger)
        let store = BenignResponseStore(directory: BenignResponseStore.defaultDirectory(), modelFile: modelURL,
                                        maxNewTokens: maxResponseTokens, batchSize: batch, logger: logger)
        let pipeline = ClientDataPipeline(parameters: parameters, pyritRoot: pyritRoot, includeRefusals: includeRefusals,
                                          benignPromptSeed: benignSeed, logger: logger)
        let output = URL(fileURLWithPath: (out as NSString).expandingTildeInPath)
        var progressShown = false
        let summary: ClientDataSummary
        do {
            summary = try pipeline.run(store: store, loadModel: {
                Console.err("loading \(modelURL.lastPathComponent) to generate benign responses ...")
                return try ModelLoader.load(from: modelURL, logger: logger)
            }, output: output) { step in
                switch step {
                case let .poolsLoaded(harmful, refusals, goals):
                    Console.err("pools: \(harmful) harmful, \(refusals) refusal candidates; filtering against \(goals) AdvBench goals")
                case let .benignPrompts(count):
                    if progressShown { Console.progressDone(); progressShown = false }
                    Console.err("benign prompts: \(count)")
                case let .benignResponses(p, fromCache):
                    if fromCache {
                        if progressShown { Console.progressDone(); progressShown = false }
                        Console.err("benign responses: \(p.total) from the cache")
                    } else {
                        let rate = p.elapsedSeconds > 0 ? Double(p.generatedTokens) / p.elapsedSeconds : 0
                        let eta = p.etaSeconds.map(Self.duration) ?? "?"
                        Console.progress("benign responses \(p.done)/\(p.total)  " + String(format: "%.0f tok/s", rate)
                            + "  elapsed \(Self.duration(p.elapsedSeconds))  ETA \(eta)")
                        progressShown = true
                    }
                case .written:
                    if progressShown { Console.progressDone() }
                }
            }
        } catch {
            if progressShown { Console.progressDone() }
            throw error
        }
        printSummary(summary)
    }

    func printSummary(_ summary: ClientDataSummary) {
        let m = summary.manifest
        let p = m.parameters
        Console.out("client  total  harmful  benign  file")
        for c in m.clients {
            Console.out(Self.pad(String(c.index), 6) + "  " + Self.pad(String(c.total), 5) + "  "
                + Self.pad(String(c.harmful), 7) + "  " + Self.pad(String(c.benign), 6) + "  " + c.file)
        }
        Console.out("total   " + Self.pad(String(m.totals.samples), 5) + "  " + Self.pad(String(m.totals.harmful), 7) + "  "
            + Self.pad(String(m.totals.benign), 6))
        Console.out("")
        let partition = p.alpha.map { "dirichlet(alpha=\($0))" } ?? p.partition
        Console.out("\(p.clients) clients × \(p.samplesPerClient) samples (\(p.harmfulPerClient) harmful, "
            + "\(p.benignPerClient) benign); partition \(partition); seed \(p.seed)")
        Console.out("harmful pool: \(m.pools.harmfulAvailable) after screening (\(m.pools.harmfulCandidates) candidates), "
            + "\(m.pools.harmfulUsed) used" + (m.harmfulReuse.applied
                ? "; REUSED across clients (up to \(m.harmfulReuse.maxCopiesPerItem) copies per item)" : ""))
        Console.out("AdvBench filter dropped \(m.contamination.droppedHarmful) harmful, \(m.contamination.droppedNonHarmful) "
            + "non-harmful; duplicates dropped \(m.contamination.duplicatesHarmful) + \(m.contamination.duplicatesNonHarmful)")
        Console.out("benign responses: " + (summary.benignFromCache ? "from the cache" : "generated and cached")
            + " (\(m.inputs["benignCache"] ?? "-"))")
        Console.out("wrote \(summary.clientFiles.count) client files and \(ClientDataWriter.manifestName) to "
            + "\(summary.directory.path) in \(Self.duration(summary.seconds))")
    }

    static func pad(_ s: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - s.count)) + s
    }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "?" }
        let s = Int(seconds.rounded())
        if s >= 60 { return String(format: "%dm%02ds", s / 60, s % 60) }
        return "\(s)s"
    }
}
