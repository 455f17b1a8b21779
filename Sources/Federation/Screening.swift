/// Validates client replies before aggregation: a pure function from (global, replies) to
/// accepted replies plus typed rejections.
///
/// A reply is rejected, in this order of checks, for: a second reply from the same client; a
/// non-positive example count; a missing or unexpected tensor or a shape (or order) different
/// from the global map; a NaN or infinite value; an update norm `‖parameters − global‖` above
/// ``maxUpdateNorm``; and, when ``requireControlVariate`` is set (SCAFFOLD), a missing or
/// malformed control-variate delta.
public struct ReplyScreen: Sendable, Equatable, Codable {
    /// The minimum number of valid replies for a round to update the global.
    public var minimumReplies: Int
    /// Replies whose update norm exceeds this bound are rejected (nil: no bound).
    public var maxUpdateNorm: Double?
    /// Whether every reply must carry a well-formed ``ClientReply/controlVariateDelta``.
    public var requireControlVariate: Bool

    /// Creates a screen; `minimumReplies` is clamped to at least 1.
    public init(minimumReplies: Int = 1, maxUpdateNorm: Double? = nil, requireControlVariate: Bool = false) {
        self.minimumReplies = max(1, minimumReplies)
        self.maxUpdateNorm = maxUpdateNorm
        self.requireControlVariate = requireControlVariate
    }

    /// Accepted replies in input order, and rejections in input order.
    public func screen(global: TensorMap, replies: [ClientReply])
        -> (accepted: [ClientReply], rejections: [Rejection])
    {
        var seen = Set<Int>()
        var accepted: [ClientReply] = []
        var rejections: [Rejection] = []
        for reply in replies {
            if let reason = rejectionReason(for: reply, global: global, seen: &seen) {
                rejections.append(Rejection(clientID: reply.clientID, reason: reason))
            } else {
                accepted.append(reply)
            }
        }
        return (accepted, rejections)
    }

    /// The reason to reject one reply, or nil if it is valid.
    public func rejectionReason(for reply: ClientReply, global: TensorMap) -> RejectionReason? {
        var seen = Set<Int>()
        return rejectionReason(for: reply, global: global, seen: &seen)
    }

    private func rejectionReason(
        for reply: ClientReply, global: TensorMap, seen: inout Set<Int>
    ) -> RejectionReason? {
        guard seen.insert(reply.clientID).inserted else { return .duplicateClient }
        guard reply.exampleCount > 0 else { return .nonPositiveExampleCount(reply.exampleCount) }
        if let reason = Self.layoutReason(expected: global.layout, found: reply.parameters.layout) {
            return reason
        }
        if let bad = reply.parameters.firstNonFinite {
            return .nonFinite(tensor: bad.name, index: bad.index)
        }
        if let bound = maxUpdateNorm {
            // Layouts are equal here, so the distance cannot throw.
            let norm = ((try? reply.parameters.squaredDistance(to: global)) ?? .infinity).squareRoot()
            if !(norm <= bound) { return .normExceeded(norm: norm, bound: bound) }
        }
        if requireControlVariate {
            guard let control = reply.controlVariateDelta else {
                return .invalidControlVariate("missing")
            }
            if let reason = Self.layoutReason(expected: global.layout, found: control.layout) {
                return .invalidControlVariate(reason.description)
            }
            if let bad = control.firstNonFinite {
                return .invalidControlVariate("non-finite value in '\(bad.name)' at \(bad.index)")
            }
        }
        return nil
    }

    /// The first structural difference between two layouts as a rejection reason.
    static func layoutReason(expected: TensorLayout, found: TensorLayout) -> RejectionReason? {
        if expected == found { return nil }
        let expectedShapes = Dictionary(uniqueKeysWithValues: expected.entries.map { ($0.name, $0.shape) })
        let foundShapes = Dictionary(uniqueKeysWithValues: found.entries.map { ($0.name, $0.shape) })
        for entry in expected.entries {
            guard let shape = foundShapes[entry.name] else { return .missingTensor(entry.name) }
            if shape != entry.shape {
                return .shapeMismatch(tensor: entry.name, expected: entry.shape, found: shape)
            }
        }
        for entry in found.entries where expectedShapes[entry.name] == nil {
            return .unexpectedTensor(entry.name)
        }
        // Same names and shapes, different order: report the first out-of-place tensor.
        for (mine, theirs) in zip(expected.entries, found.entries) where mine != theirs {
            return .shapeMismatch(tensor: mine.name, expected: mine.shape, found: theirs.shape)
        }
        return nil
    }
}

/// A policy that screens replies with a ``ReplyScreen`` before delegating, and keeps the previous
/// global when fewer than ``ReplyScreen/minimumReplies`` replies are valid.
///
/// Put it outermost so that every policy inside sees only valid replies. Its state counts
/// rejections per kind over the whole run.
///
/// reference: Flower `Strategy` decorators (e.g. `DifferentialPrivacyServerSideFixedClipping`)
/// for the wrapping pattern; `min_fit_clients` for the minimum-replies rule.
public struct ScreenedStrategy<Base: Strategy>: Strategy {
    /// Rejection counts over the run.
    public struct Tally: Sendable, Equatable, Codable {
        /// Rejections per kind of reason, summed over all rounds.
        public var rejections: [RejectionReason.Kind: Int] = [:]
        /// Rounds that kept the previous global.
        public var keptRounds: Int = 0
    }

    /// The wrapped strategy.
    public private(set) var base: Base
    /// The screen.
    public let screen: ReplyScreen
    /// Rejections and kept rounds so far.
    public private(set) var tally = Tally()

    /// Wraps `base`.
    public init(base: Base, screen: ReplyScreen) {
        self.base = base
        self.screen = screen
    }

    public var name: String { "screened(\(base.name))" }

    public func configure(round: Int, global: TensorMap) -> RoundConfiguration {
        base.configure(round: round, global: global)
    }

    public mutating func aggregate(global: TensorMap, replies: [ClientReply], round: Int) throws
        -> AggregationOutcome
    {
        let (accepted, rejections) = screen.screen(global: global, replies: replies)
        for rejection in rejections { tally.rejections[rejection.reason.kind, default: 0] += 1 }
        guard accepted.count >= screen.minimumReplies else {
            tally.keptRounds += 1
            return .kept(global, valid: accepted.count, required: screen.minimumReplies,
                         rejections: rejections)
        }
        var outcome = try base.aggregate(global: global, replies: accepted, round: round)
        outcome.rejections = rejections + outcome.rejections
        if !outcome.isUpdated { tally.keptRounds += 1 }
        return outcome
    }

    public func aggregateEvaluation(_ results: [ClientEvaluation], round: Int) -> [String: Double] {
        base.aggregateEvaluation(results, round: round)
    }

    public var state: PolicyState<Base.State, Tally> { PolicyState(base: base.state, own: tally) }

    public mutating func restore(_ state: PolicyState<Base.State, Tally>) throws {
        try base.restore(state.base)
        tally = state.own
    }
}
