import Foundation
import FuzzTargets

// fedguard-fuzz FORMAT [libFuzzer options and corpus directories]   (built by scripts/fuzz.sh: libFuzzer)
// fedguard-fuzz FORMAT FILE...                                      (an ordinary build: replays the files)

/// The format named by the first argument, or a usage message and exit status 2.
func selectedFormat(_ arguments: [String]) -> FuzzFormat {
    guard arguments.count >= 2, let format = FuzzFormat(rawValue: arguments[1]) else {
        let names = FuzzFormat.allCases.map(\.rawValue).joined(separator: ", ")
        FileHandle.standardError.write(Data("usage: fedguard-fuzz FORMAT [FILE... | libFuzzer options]; formats: \(names)\n".utf8))
        exit(2)
    }
    return format
}

#if FUZZING
// Built with -sanitize=fuzzer,address -parse-as-library -DFUZZING: libFuzzer drives the format.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

nonisolated(unsafe) var fuzzedFormat = FuzzFormat.gguf

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzzedFormat.run(data.map { Data(bytes: $0, count: size) } ?? Data())
    return 0
}

/// The executable's entry (SwiftPM links `main` to `<module>_main`).
@_cdecl("fedguard_fuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    let arguments = CommandLine.arguments
    fuzzedFormat = selectedFormat(arguments)
    // libFuzzer sees the arguments without the format.
    var cStrings: [UnsafeMutablePointer<CChar>?] = ([arguments[0]] + arguments.dropFirst(2)).map { strdup($0) } + [nil]
    var count = CInt(cStrings.count - 1)
    return cStrings.withUnsafeMutableBufferPointer { buffer -> CInt in
        var vector: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = buffer.baseAddress
        return LLVMFuzzerRunDriver(&count, &vector, fuzzOneInput)
    }
}
#else
@main
struct FuzzReplay {
    static func main() {
        let arguments = CommandLine.arguments
        let format = selectedFormat(arguments)
        var accepted = 0
        for path in arguments.dropFirst(2) {
            guard let data = FileManager.default.contents(atPath: path) else {
                FileHandle.standardError.write(Data("cannot read \(path)\n".utf8))
                exit(1)
            }
            if format.run(data) { accepted += 1 }
        }
        print("\(format.rawValue): \(arguments.count - 2) inputs replayed, \(accepted) accepted, no crash")
    }
}
#endif
