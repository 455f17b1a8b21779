import Foundation
import RunFiles
import SafetyData

/// The figures of a federation run, as written to `report.json`: every round's record, totals,
/// per-client summaries, the last evaluation and a few truncated samples.
public struct RunReport: Codable, Sendable {
    /// Totals over the run.
    public struct Totals: Codable, Sendable, Equatable {
        public var rounds = 0
        public var clientUpdates = 0
        public var accepted = 0
        public var rejected = 0
        public var failed = 0
        public var examples = 0
        public var bytesUp = 0
        public var bytesDown = 0
        public var clientSeconds = 0.0
        public var aggregationSeconds = 0.0
        public var keptPrevious = 0

        enum CodingKeys: String, CodingKey {
            case rounds, accepted, rejected, failed, examples
            case clientUpdates = "client_updates", bytesUp = "bytes_up", bytesDown = "bytes_down"
            case clientSeconds = "client_seconds", aggregationSeconds = "aggregation_seconds"
            case keptPrevious = "kept_previous"
        }
    }

    /// One client's summary over the run.
    public struct ClientSummary: Codable, Sendable, Equatable {
        public var id: String
        public var rounds = 0
        public var meanLoss: Double?
        public var lastLoss: Double?
        public var rejected = 0
        public var failed = 0
        public var bytesUp = 0

        enum CodingKeys: String, CodingKey {
            case id, rounds, rejected, failed
            case meanLoss = "mean_loss", lastLoss = "last_loss", bytesUp = "bytes_up"
        }
    }

    /// A truncated sample with its round.
    public struct Sample: Codable, Sendable, Equatable {
        public var round: Int
        public var suite: String
        public var prompt: String
        public var response: String
        public var judged: String
    }

    /// The run directory's path.
    public var runDirectory: String
    /// `config.yaml` verbatim.
    public var configuration: String?
    /// Every round, in file order.
    public var rounds: [RoundRecord]
    /// Totals.
    public var totals: Totals
    /// Per-client summaries, by id.
    public var clients: [ClientSummary]
    /// The last evaluated round and its figures.
    public var finalEvaluationRound: Int?
    /// The last evaluated round's figures.
    public var finalEvaluation: [String: Double]?
    /// A few samples, truncated to ``RunReport/snippetLength`` characters.
    public var samples: [Sample]
    /// What could not be read.
    public var issues: [String]

    enum CodingKeys: String, CodingKey {
        case rounds, totals, clients, samples, issues, configuration
        case runDirectory = "run_directory", finalEvaluationRound = "final_evaluation_round"
        case finalEvaluation = "final_evaluation"
    }

    /// Longest prompt or reply snippet in a report, in characters (before the ellipsis).
    public static let snippetLength = ReportText.defaultLength
    /// Samples kept per suite from each of the first and last sampled rounds.
    public static let samplesPerSuite = 3

    /// Summarises a run directory.
    public init(_ run: RunContents) {
        runDirectory = run.directory.url.path
        configuration = run.configuration
        rounds = run.rounds
        issues = run.issues
        var totals = Totals()
        var byClient: [String: ClientSummary] = [:]
        var losses: [String: [Double]] = [:]
        for round in run.rounds {
            totals.rounds += 1
            totals.bytesUp += round.totalBytesUp
            totals.bytesDown += round.totalBytesDown
            totals.aggregationSeconds += round.aggregationSeconds
            if round.keptPrevious { totals.keptPrevious += 1 }
            for client in round.clients {
                totals.clientUpdates += 1
                totals.examples += client.examples
                totals.clientSeconds += client.seconds
                let status = client.status
                var summary = byClient[client.id] ?? ClientSummary(id: client.id)
                summary.rounds += 1
                summary.bytesUp += client.bytesUp
                if status.hasPrefix("rejected") {
                    totals.rejected += 1
                    summary.rejected += 1
                } else if status.hasPrefix("failed") {
                    totals.failed += 1
                    summary.failed += 1
                } else {
                    totals.accepted += 1
                }
                if let loss = client.loss, loss.isFinite {
                    losses[client.id, default: []].append(loss)
                    summary.lastLoss = loss
                }
                byClient[client.id] = summary
            }
        }
        for (id, values) in losses { byClient[id]?.meanLoss = values.reduce(0, +) / Double(values.count) }
        self.totals = totals
        clients = byClient.values.sorted { Self.naturalLess($0.id, $1.id) }
        if let last = run.rounds.last(where: { !($0.eval ?? [:]).isEmpty }) {
            finalEvaluationRound = last.round
            finalEvaluation = last.eval
        }
        var picked: [Sample] = []
        let files = run.samples.sorted { $0.round < $1.round }
        for file in [files.first, files.count > 1 ? files.last : nil].compactMap({ $0 }) {
            var perSuite: [String: Int] = [:]
            for s in file.samples where perSuite[s.suite, default: 0] < Self.samplesPerSuite {
                perSuite[s.suite, default: 0] += 1
                picked.append(Sample(round: file.round, suite: ReportText.truncate(s.suite, to: 24),
                                     prompt: ReportText.truncate(s.prompt, to: Self.snippetLength),
                                     response: ReportText.truncate(s.response, to: Self.snippetLength),
                                     judged: ReportText.truncate(s.judged, to: 16)))
            }
        }
        samples = picked
    }

    /// Client ids in natural order (`client-2` before `client-10`).
    static func naturalLess(_ a: String, _ b: String) -> Bool {
        a.compare(b, options: [.numeric]) == .orderedAscending
    }

    /// All client ids seen in the run, in natural order.
    var clientIDs: [String] { clients.map(\.id) }

    /// Writes `report.json` and `report.html` into `directory`; returns their URLs.
    @discardableResult
    public func write(to directory: URL) throws -> (json: URL, html: URL) {
        let json = directory.appendingPathComponent("report.json")
        let html = directory.appendingPathComponent("report.html")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf",
                                                                     nan: "nan")
        do {
            try encoder.encode(self).write(to: json, options: .atomic)
            try Data(ReportHTML.render(self).utf8).write(to: html, options: .atomic)
        } catch {
            throw EvaluationError.io(file: directory.path, detail: "\(error)")
        }
        return (json, html)
    }

    /// Reads `runDirectory` and writes its report into it.
    @discardableResult
    public static func generate(runDirectory: URL) throws -> (report: RunReport, json: URL, html: URL) {
        let report = RunReport(try RunDirectory(runDirectory).contents())
        let (json, html) = try report.write(to: runDirectory)
        return (report, json, html)
    }
}
