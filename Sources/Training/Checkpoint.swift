import Engine
import Foundation
import Logging
import ModelFiles

/// Everything a training run needs to continue exactly where it stopped.
public struct TrainingCheckpoint: Sendable {
    /// Trainer steps completed (optimizer updates).
    public var step: Int
    /// The adapter being trained.
    public var adapter: LoRAWeights
    /// LoRA settings (dropout is recorded in the adapter config).
    public var loraConfiguration: LoRAConfiguration
    /// `base_model_name_or_path` for the adapter config.
    public var baseModel: String
    /// AdamW hyperparameters.
    public var optimizerConfiguration: AdamWConfiguration
    /// AdamW step count and moments.
    public var optimizerState: AdamWState
    /// The learning rate schedule, if the run uses one.
    public var schedule: LearningRateSchedule?
    /// The trainer's random generator (dropout masks).
    public var random: RandomState
    /// The data order's seed (``BatchPlanner/seed``).
    public var dataSeed: UInt64
    /// The next batch to train on.
    public var dataPosition: DataPosition

    /// Creates a checkpoint value.
    public init(step: Int, adapter: LoRAWeights, loraConfiguration: LoRAConfiguration, baseModel: String,
                optimizerConfiguration: AdamWConfiguration, optimizerState: AdamWState, schedule: LearningRateSchedule?,
                random: RandomState, dataSeed: UInt64, dataPosition: DataPosition) {
        self.step = step
        self.adapter = adapter
        self.loraConfiguration = loraConfiguration
        self.baseModel = baseModel
        self.optimizerConfiguration = optimizerConfiguration
        self.optimizerState = optimizerState
        self.schedule = schedule
        self.random = random
        self.dataSeed = dataSeed
        self.dataPosition = dataPosition
    }
}

/// Writes and reads checkpoint directories.
///
/// Layout of `checkpoint-<step>/`: the adapter in PEFT format (`adapter_config.json`,
/// `adapter_model.safetensors`, loadable by `PeftModel.from_pretrained`), `optimizer.safetensors`
/// (F32 moments `exp_avg.<PEFT key>` and `exp_avg_sq.<PEFT key>`) and `trainer_state.json` (step,
/// optimizer settings and step, schedule, random state, data seed and position). A checkpoint is
/// written into a temporary sibling, fsync'd, then renamed into place, so a crash never leaves a
/// half-written checkpoint under the final name.
public enum CheckpointStore {
    /// Version of `trainer_state.json` this code writes.
    public static let formatVersion = 1
    static let optimizerFileName = "optimizer.safetensors"
    static let stateFileName = "trainer_state.json"

    /// `checkpoint-00000042` for step 42 (zero-padded so names sort by step).
    public static func directoryName(step: Int) -> String {
        let digits = String(step)
        return "checkpoint-" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }

    /// The checkpoint with the highest step in `runDirectory`, if any.
    public static func latest(in runDirectory: URL) -> URL? {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: runDirectory.path)) ?? []
        let best = names.compactMap { name -> (Int, String)? in
            guard name.hasPrefix("checkpoint-"), let step = Int(name.dropFirst("checkpoint-".count)) else { return nil }
            return (step, name)
        }.max { $0.0 < $1.0 }
        return best.map { runDirectory.appendingPathComponent($0.1) }
    }

    /// Writes `checkpoint` atomically to `runDirectory/checkpoint-<step>` and returns that directory.
    @discardableResult
    public static func write(_ checkpoint: TrainingCheckpoint, into runDirectory: URL,
                             logger: Logger) throws(CheckpointError) -> URL {
        let destination = runDirectory.appendingPathComponent(directoryName(step: checkpoint.step))
        try write(checkpoint, to: destination)
        logger.info("wrote checkpoint", metadata: ["path": "\(destination.path)", "step": "\(checkpoint.step)"])
        return destination
    }

    /// Writes `checkpoint` atomically to exactly `directory` (replacing it if present).
    public static func write(_ checkpoint: TrainingCheckpoint, to directory: URL) throws(CheckpointError) {
        let keyed = PEFTAdapter.keyedBuffers(checkpoint.adapter)
        let state = checkpoint.optimizerState
        guard state.firstMoments.count == keyed.count, state.secondMoments.count == keyed.count,
              zip(keyed, zip(state.firstMoments, state.secondMoments)).allSatisfy({
                  $0.buffer.count == $1.0.count && $0.buffer.count == $1.1.count }) else {
            throw .mismatch(path: directory.path, detail: "optimizer state does not have the adapter's buffer sizes")
        }
        let file = StateFile(
            formatVersion: formatVersion, step: checkpoint.step, optimizerStep: state.step,
            optimizer: checkpoint.optimizerConfiguration, schedule: checkpoint.schedule,
            lora: checkpoint.loraConfiguration, random: checkpoint.random.words.map(hex),
            dataSeed: hex(checkpoint.dataSeed), dataPosition: checkpoint.dataPosition)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let stateData: Data
        do { stateData = try encoder.encode(file) } catch {
            throw .io(path: directory.path, detail: "cannot encode trainer state: \(error)")
        }
        try DurableFiles.replaceDirectory(directory) { (temporary: URL) throws(CheckpointError) in
            do {
                try PEFTAdapter.save(checkpoint.adapter, dropout: checkpoint.loraConfiguration.dropout,
                                     baseModel: checkpoint.baseModel, to: temporary)
            } catch {
                throw .io(path: temporary.path, detail: "\(error)")
            }
            var tensors: [(name: String, shape: [Int], values: [Float])] = []
            for (i, entry) in keyed.enumerated() {
                tensors.append(("exp_avg." + entry.key, entry.shape, state.firstMoments[i]))
                tensors.append(("exp_avg_sq." + entry.key, entry.shape, state.secondMoments[i]))
            }
            let optimizerURL = temporary.appendingPathComponent(optimizerFileName)
            do {
                try SafeTensorsWriter.write(tensors, metadata: ["step": String(state.step)], to: optimizerURL)
            } catch {
                throw .io(path: optimizerURL.path, detail: "\(error)")
            }
            try DurableFiles.write(stateData, to: temporary.appendingPathComponent(stateFileName))
        }
    }

    /// Reads the checkpoint in `directory`; with `model`, the adapter is checked against it.
    public static func read(from directory: URL, for model: LlamaModel? = nil) throws(CheckpointError) -> TrainingCheckpoint {
        let stateURL = directory.appendingPathComponent(stateFileName)
        guard let stateData = FileManager.default.contents(atPath: stateURL.path) else {
            throw .io(path: stateURL.path, detail: "missing or unreadable")
        }
        let file: StateFile
        do { file = try JSONDecoder().decode(StateFile.self, from: stateData) } catch {
            throw .invalidContent(path: stateURL.path, detail: "cannot decode: \(error)")
        }
        guard file.formatVersion == formatVersion else {
            throw .invalidContent(path: stateURL.path, detail: "format version \(file.formatVersion), expected \(formatVersion)")
        }
        let random = file.random.compactMap(unhex)
        guard random.count == 4, file.random.count == 4, let dataSeed = unhex(file.dataSeed) else {
            throw .invalidContent(path: stateURL.path, detail: "random state or data seed is not hexadecimal")
        }
        let loaded: LoadedAdapter
        do { loaded = try PEFTAdapter.load(from: directory, for: model) } catch {
            throw .mismatch(path: directory.path, detail: "\(error)")
        }
        let optimizerURL = directory.appendingPathComponent(optimizerFileName)
        let moments: SafeTensorsFile
        do { moments = try SafeTensorsFile(url: optimizerURL) } catch {
            throw .io(path: optimizerURL.path, detail: "\(error)")
        }
        var first: [[Float]] = [], second: [[Float]] = []
        for entry in PEFTAdapter.keyedBuffers(loaded.weights) {
            for (prefix, target) in [("exp_avg.", 0), ("exp_avg_sq.", 1)] {
                let name = prefix + entry.key
                guard let info = moments.tensors[name] else {
                    throw .invalidContent(path: optimizerURL.path, detail: "tensor '\(name)' is missing")
                }
                guard info.shape == entry.shape else {
                    throw .mismatch(path: optimizerURL.path, detail: "tensor '\(name)' has shape \(info.shape), the adapter \(entry.shape)")
                }
                let values: [Float]
                do { values = try moments.floats(named: name) } catch {
                    throw .io(path: optimizerURL.path, detail: "\(error)")
                }
                if target == 0 { first.append(values) } else { second.append(values) }
            }
        }
        var lora = file.lora
        lora.rank = loaded.configuration.rank
        lora.alpha = loaded.configuration.alpha
        lora.targets = loaded.configuration.targets
        return TrainingCheckpoint(
            step: file.step, adapter: loaded.weights, loraConfiguration: lora, baseModel: loaded.baseModel ?? "",
            optimizerConfiguration: file.optimizer,
            optimizerState: AdamWState(step: file.optimizerStep, firstMoments: first, secondMoments: second),
            schedule: file.schedule, random: RandomState(words: random), dataSeed: dataSeed, dataPosition: file.dataPosition)
    }

    /// `trainer_state.json`. 64-bit words are hexadecimal strings (JSON readers often hold numbers as doubles).
    struct StateFile: Codable {
        var formatVersion: Int
        var step: Int
        var optimizerStep: Int
        var optimizer: AdamWConfiguration
        var schedule: LearningRateSchedule?
        var lora: LoRAConfiguration
        var random: [String]
        var dataSeed: String
        var dataPosition: DataPosition

        enum CodingKeys: String, CodingKey {
            case formatVersion = "format_version", step, optimizerStep = "optimizer_step", optimizer, schedule, lora
            case random = "rng_state", dataSeed = "data_seed", dataPosition = "data_position"
        }
    }

    static func hex(_ value: UInt64) -> String { String(value, radix: 16) }
    static func unhex(_ text: String) -> UInt64? { UInt64(text, radix: 16) }
}
