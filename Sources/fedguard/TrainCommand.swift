import ArgumentParser

/// `fedguard train` (being built: see the Training module).
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "train", abstract: "Fine-tune a LoRA adapter (SFT or DPO).")
    func run() throws { throw ValidationError("fedguard train is not available yet") }
}
