import ArgumentParser
import Engine
import Foundation

/// `fedguard tokenize`: print token ids as a JSON array.
struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tokenize", abstract: "Print the token ids of a text as a JSON array.")

    @OptionGroup var engine: EngineOptions

    @Option(help: "The text to tokenize (special tokens such as <|im_start|> are recognised).")
    var text: String

    @Flag(help: "Prepend BOS when the model asks for it.")
    var addBOS = false

    func run() throws {
        let logger = engine.prepare()
        let (model, _) = try engine.loadModel(logger: logger)
        let tok = try model.requireTokenizer()
        let ids = addBOS ? tok.encode(text) : tok.tokenizer.encode(text, parseSpecialTokens: true)
        Console.out("[" + ids.map(String.init).joined(separator: ",") + "]")
    }
}
