import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Test-only fault injection for the kill-and-resume tests (debug builds only): the environment variable
/// `FEDGUARD_TEST_FAULT=<point>@<round>[:pause=<seconds>]` makes the runner kill itself with
/// SIGKILL (or pause, for an external kill) when it reaches `<point>` in `<round>`.
///
/// Points, in the order a round reaches them: `client-trained` (after the first client),
/// `cai-trained` (the CAI step trained, its result not yet the global adapter),
/// `adapter-written`, `checkpoint-partial` (checkpoint files half written, not yet in place),
/// `checkpoint-renamed` (in place, LATEST not yet updated), `checkpoint-committed`,
/// `record-partial` (half of the round's line appended), `record-appended`.
enum FaultInjection {
    struct Fault: Equatable {
        var point: String
        var round: Int
        var pauseSeconds: Double?
    }

    static let environmentKey = "FEDGUARD_TEST_FAULT"

    /// The fault to inject: read from the environment in debug builds (what the tests run); a
    /// release build never injects one, whatever its environment says.
    #if DEBUG
    static let active: Fault? = parse(ProcessInfo.processInfo.environment[environmentKey])
    #else
    static let active: Fault? = nil
    #endif

    static func parse(_ text: String?) -> Fault? {
        guard let text, !text.isEmpty else { return nil }
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        let target = parts[0].split(separator: "@").map(String.init)
        guard target.count == 2, let round = Int(target[1]) else { return nil }
        var pause: Double?
        if parts.count == 2, parts[1].hasPrefix("pause=") { pause = Double(parts[1].dropFirst("pause=".count)) }
        return Fault(point: target[0], round: round, pauseSeconds: pause)
    }

    /// True when the fault is set for this point and round (callers about to write partially).
    static func isArmed(_ point: String, round: Int) -> Bool {
        guard let fault = active else { return false }
        return fault.point == point && fault.round == round
    }

    /// Kills (or pauses) the process if the fault names this point and round.
    static func reach(_ point: String, round: Int) {
        guard let fault = active, fault.point == point, fault.round == round else { return }
        if let pause = fault.pauseSeconds {
            Thread.sleep(forTimeInterval: pause)
        } else {
            kill(getpid(), SIGKILL)
        }
    }
}
