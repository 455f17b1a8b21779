import Foundation

/// Everything that can go wrong while fetching, verifying or extracting an asset.
///
/// Each case carries what failed and where, and its ``description`` ends with what to do next.
public enum AssetError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No pip was found. `searched` lists what was tried (`FEDGUARD_PIP`, `pip3`, `pip`, `python3 -m pip`).
    case pipNotFound(searched: [String])
    /// No Python interpreter was found to unpack the wheel.
    case pythonNotFound(searched: [String])
    /// A tool could not be started at all.
    case toolLaunchFailed(tool: String, path: String, reason: String)
    /// `pip download` exited non-zero. `stderrTail` holds its last stderr lines.
    case downloadFailed(requirement: String, exitCode: Int32, stderrTail: [String])
    /// pip exited zero but left no `.whl` for the package in its download directory.
    case wheelNotProduced(requirement: String, directory: String, found: [String])
    /// The wheel's SHA-256 is not the pinned one. The bad wheel has been deleted.
    case checksumMismatch(requirement: String, file: String, expected: String, actual: String)
    /// The wheel holds a member whose path is absolute or climbs out with `..` (zip-slip).
    case unsafeMember(requirement: String, member: String)
    /// A member path listed for the package matched nothing in the wheel.
    case memberNotInWheel(requirement: String, member: String)
    /// Unpacking the wheel failed for another reason (corrupt zip, disk full, ...).
    case extractionFailed(requirement: String, exitCode: Int32, stderrTail: [String])
    /// The requested file is not among the package's extracted members or not in the wheel.
    case fileNotInPackage(requirement: String, path: String, expectedAt: String)
    /// A file-system operation failed.
    case fileSystem(operation: String, path: String, reason: String)

    public var description: String {
        switch self {
        case .pipNotFound(let searched):
            return "pip was not found (tried: \(searched.joined(separator: ", "))). "
                + "Install it with `apt-get install -y python3-pip`, or set FEDGUARD_PIP to a pip executable "
                + "(for example FEDGUARD_PIP=\"python3 -m pip\")."
        case .pythonNotFound(let searched):
            return "python3 was not found to unpack wheels (tried: \(searched.joined(separator: ", "))). "
                + "Install it with `apt-get install -y python3`, or set FEDGUARD_PYTHON to an interpreter."
        case .toolLaunchFailed(let tool, let path, let reason):
            return "Could not start \(tool) at \(path): \(reason). Check that it exists and is executable, "
                + "or point FEDGUARD_PIP / FEDGUARD_PYTHON at a working one."
        case .downloadFailed(let requirement, let exitCode, let stderrTail):
            return "pip could not download \(requirement) (exit code \(exitCode)). Last pip output:\n"
                + Self.indented(stderrTail)
                + "\nFedGuard needs only the PyPI registry (pypi.org and files.pythonhosted.org). "
                + "Check the network or proxy, and pip's index settings (`pip config list`)."
        case .wheelNotProduced(let requirement, let directory, let found):
            return "pip finished but left no wheel for \(requirement) in \(directory) "
                + "(found: \(found.isEmpty ? "nothing" : found.joined(separator: ", "))). "
                + "Check that pip downloads wheels (not source archives) from PyPI."
        case .checksumMismatch(let requirement, let file, let expected, let actual):
            return "SHA-256 mismatch for \(requirement) (\(file)): expected \(expected), got \(actual). "
                + "The bad wheel was deleted. Retry; if it persists, the registry or a proxy/mirror in pip's "
                + "configuration serves a different file, or the pin in AssetCatalog is wrong."
        case .unsafeMember(let requirement, let member):
            return "Refusing to unpack \(requirement): member \"\(member)\" has an absolute path or `..` "
                + "and could write outside the cache (zip-slip). Nothing was extracted."
        case .memberNotInWheel(let requirement, let member):
            return "The wheel of \(requirement) has no member \"\(member)\". "
                + "The member list in AssetCatalog does not match this wheel; fix the catalog entry."
        case .extractionFailed(let requirement, let exitCode, let stderrTail):
            return "Unpacking \(requirement) failed (exit code \(exitCode)):\n" + Self.indented(stderrTail)
                + "\nCheck free disk space in the cache; a corrupt wheel can be removed from <cache>/wheels/ to force a new download."
        case .fileNotInPackage(let requirement, let path, let expectedAt):
            return "\(requirement) has no extracted file \"\(path)\" (looked at \(expectedAt)). "
                + "Either the path is wrong or it is not listed in the package's members in AssetCatalog."
        case .fileSystem(let operation, let path, let reason):
            return "Could not \(operation) \(path): \(reason). Check permissions and free space, "
                + "or choose another cache with FEDGUARD_HOME."
        }
    }

    private static func indented(_ lines: [String]) -> String {
        lines.isEmpty ? "    (no output)" : lines.map { "    " + $0 }.joined(separator: "\n")
    }
}
