import ArgumentParser
import Engine
import Foundation
import Tokenizers

/// `fedguard chat`: an interactive conversation in the terminal.
struct ChatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat",
        abstract: "Chat with the model. Type /reset to start over, /exit (or Ctrl-D) to quit."
    )

    @OptionGroup var engine: EngineOptions
    @OptionGroup var sampling: SamplingOptions

    @Option(help: "System prompt (default: the model's own).")
    var system: String?

    func run() throws {
        let logger = engine.prepare()
        Console.err("loading model ...")
        let (model, loadSeconds) = try engine.loadModel(logger: logger)
        let tok = try model.requireTokenizer()
        guard tok.chatTemplate != nil else {
            throw ValidationError("this model has no chat template FedGuard knows; use `fedguard generate --raw`")
        }
        Console.err(String(format: "ready in %.1fs. /reset starts over, /exit quits.", loadSeconds))
        let generator = Generator(model: model, logger: logger)
        var history: [ChatMessage] = system.map { [ChatMessage(role: .system, content: $0)] } ?? []
        let baseParameters = try sampling.parameters(extraStops: tok.stopStrings, model: model)
        var turn: UInt64 = 0
        while true {
            Console.out("> ", terminator: "")
            guard let line = readLine() else { Console.out(""); break }
            let input = line.trimmingCharacters(in: .whitespaces)
            if input.isEmpty { continue }
            if input == "/exit" || input == "/quit" { break }
            if input == "/reset" {
                history = system.map { [ChatMessage(role: .system, content: $0)] } ?? []
                Console.err("(conversation reset)")
                continue
            }
            history.append(ChatMessage(role: .user, content: input))
            var params = baseParameters
            params.seed = sampling.seed &+ turn
            turn += 1
            let ids = try tok.encodeChat(history)
            let results = try generator.generate(prompts: [ids], parameters: params) { _, _, piece in
                if !piece.isEmpty { Console.out(piece, terminator: "") }
            }
            Console.out("")
            history.append(ChatMessage(role: .assistant, content: results.first?.text ?? ""))
        }
    }
}
