import Engine
import Foundation

/// Errors of the optimizer: mismatched buffers or a saved state that does not fit the adapter.
public enum OptimizerError: Error, CustomStringConvertible, Equatable {
    /// Parameters, gradients and moments must have the same buffers; `detail` says which differs.
    case shapeMismatch(String)
    /// A hyperparameter is outside its valid range.
    case invalidHyperparameter(String)

    public var description: String {
        switch self {
        case .shapeMismatch(let detail):
            return "optimizer: \(detail); build gradients with `zerosLike()` of the adapter being trained "
                + "and restore optimizer state only into an optimizer for the same adapter shape"
        case .invalidHyperparameter(let detail):
            return "optimizer: \(detail)"
        }
    }
}

/// AdamW hyperparameters, with torch.optim.AdamW's defaults.
public struct AdamWConfiguration: Sendable, Codable, Equatable {
    /// β₁, the decay of the first moment.
    public var beta1: Double = 0.9
    /// β₂, the decay of the second moment.
    public var beta2: Double = 0.999
    /// ε, added to √v̂ in the denominator.
    public var epsilon: Double = 1e-8
    /// Decoupled weight decay λ (the parameter shrinks by `lr·λ` per step).
    public var weightDecay: Double = 0.01

    /// torch.optim.AdamW's defaults (β = (0.9, 0.999), ε = 1e-8, weight decay 0.01).
    public static let torchDefaults = AdamWConfiguration(checkedBeta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.01)

    private init(checkedBeta1 beta1: Double, beta2: Double, epsilon: Double, weightDecay: Double) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
    }

    /// Creates a configuration; throws for β outside [0, 1), negative ε or negative decay.
    public init(beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8,
                weightDecay: Double = 0.01) throws(OptimizerError) {
        guard (0..<1).contains(beta1), (0..<1).contains(beta2) else {
            throw .invalidHyperparameter("betas (\(beta1), \(beta2)) must lie in [0, 1)")
        }
        guard epsilon >= 0, weightDecay >= 0 else {
            throw .invalidHyperparameter("epsilon \(epsilon) and weight decay \(weightDecay) must be non-negative")
        }
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
    }
}

/// The serialisable state of an ``AdamW`` optimizer: the step count and both moments, one array per
/// buffer in `LoRAWeights.orderedBuffers` order.
public struct AdamWState: Sendable, Equatable {
    /// Optimizer steps taken.
    public var step: Int
    /// First moments m.
    public var firstMoments: [[Float]]
    /// Second moments v.
    public var secondMoments: [[Float]]

    /// Creates a state.
    public init(step: Int, firstMoments: [[Float]], secondMoments: [[Float]]) {
        self.step = step
        self.firstMoments = firstMoments
        self.secondMoments = secondMoments
    }
}

/// Adam with decoupled weight decay over a LoRA adapter.
///
/// reference: Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization"; the update is
/// torch.optim.AdamW's single-tensor path (amsgrad off): with step t counted from 1,
/// ```
/// θ ← θ·(1 − lr·λ)
/// m ← lerp(m, g, 1 − β₁);   v ← β₂·v + (1 − β₂)·g²
/// θ ← θ − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
/// ```
/// Scalars are formed in double precision and elements updated in float32, as torch does.
public final class AdamW {
    /// Hyperparameters.
    public let configuration: AdamWConfiguration
    /// Optimizer steps taken so far.
    public private(set) var step: Int = 0
    /// First and second moments, shaped like the adapter.
    let firstMoments: [FloatBuffer]
    let secondMoments: [FloatBuffer]
    /// Element counts of the adapter's buffers, to check every call.
    let counts: [Int]

    /// An optimizer for `parameters` (zero moments, step 0).
    public init(parameters: LoRAWeights, configuration: AdamWConfiguration) {
        self.configuration = configuration
        counts = parameters.orderedBuffers.map(\.count)
        firstMoments = counts.map { FloatBuffer(count: $0) }
        secondMoments = counts.map { FloatBuffer(count: $0) }
    }

    /// One update of `parameters` in place with `gradients` at learning rate `learningRate`.
    public func update(_ parameters: LoRAWeights, gradients: LoRAWeights, learningRate: Double) throws(OptimizerError) {
        let params = parameters.orderedBuffers, grads = gradients.orderedBuffers
        try checkShapes(params, "parameters")
        try checkShapes(grads, "gradients")
        step += 1
        let c = configuration
        let t = Double(step)
        let decay = Float(1 - learningRate * c.weightDecay)
        let stepSize = learningRate / (1 - pow(c.beta1, t))
        let correction2Root = Float((1 - pow(c.beta2, t)).squareRoot())
        let mixWeight = Float(1 - c.beta1), beta2 = Float(c.beta2), oneMinusBeta2 = Float(1 - c.beta2)
        let epsilon = Float(c.epsilon), negativeStep = Float(-stepSize)
        for i in params.indices {
            let p = params[i].pointer, g = grads[i].pointer
            let m = firstMoments[i].pointer, v = secondMoments[i].pointer
            for j in 0..<counts[i] {
                p[j] *= decay
                m[j] = Self.lerp(m[j], g[j], mixWeight)
                v[j] = v[j] * beta2 + oneMinusBeta2 * (g[j] * g[j])
                let denominator = v[j].squareRoot() / correction2Root + epsilon
                p[j] += negativeStep * (m[j] / denominator)
            }
        }
    }

    /// torch.lerp: `start + w·(end − start)` for w < 0.5, else `end − (end − start)·(1 − w)`.
    @inline(__always)
    static func lerp(_ start: Float, _ end: Float, _ weight: Float) -> Float {
        weight < 0.5 ? start + weight * (end - start) : end - (end - start) * (1 - weight)
    }

    /// A copy of the step count and moments.
    public var state: AdamWState {
        AdamWState(step: step, firstMoments: firstMoments.map(\.array), secondMoments: secondMoments.map(\.array))
    }

    /// Replaces the step count and moments with `state` (taken from an optimizer of the same adapter shape).
    public func restore(_ state: AdamWState) throws(OptimizerError) {
        guard state.step >= 0 else { throw .shapeMismatch("saved step \(state.step) is negative") }
        guard state.firstMoments.map(\.count) == counts, state.secondMoments.map(\.count) == counts else {
            throw .shapeMismatch("saved moments have buffer sizes \(state.firstMoments.map(\.count)) / "
                + "\(state.secondMoments.map(\.count)) but the adapter has \(counts)")
        }
        step = state.step
        for i in counts.indices {
            firstMoments[i].overwrite(with: state.firstMoments[i])
            secondMoments[i].overwrite(with: state.secondMoments[i])
        }
    }

    func checkShapes(_ buffers: [FloatBuffer], _ what: String) throws(OptimizerError) {
        let seen = buffers.map(\.count)
        guard seen == counts else {
            throw .shapeMismatch("\(what) have buffer sizes \(seen) but the optimizer was built for \(counts)")
        }
    }
}

// MARK: - Gradient helpers

extension LoRAWeights {
    /// The L2 norm over every buffer, as `torch.nn.utils.clip_grad_norm_` computes it (the norm of
    /// the per-tensor norms); accumulated in double precision.
    public func globalNorm() -> Float {
        var total = 0.0
        for buffer in orderedBuffers {
            var sum = 0.0
            for j in 0..<buffer.count { let x = Double(buffer.pointer[j]); sum += x * x }
            total += sum
        }
        return Float(total.squareRoot())
    }

    /// Scales the buffers so their global norm is at most `maxNorm`; returns the norm before clipping.
    ///
    /// reference: `torch.nn.utils.clip_grad_norm_` (norm_type 2): the coefficient is
    /// `min(1, maxNorm / (norm + 1e-6))` and is applied even when it is 1.
    @discardableResult
    public func clipGlobalNorm(maxNorm: Float) -> Float {
        let norm = globalNorm()
        let coefficient = min(Float(1), maxNorm / (norm + 1e-6))
        multiplyBuffers(by: coefficient)
        return norm
    }

    /// Multiplies every buffer by `factor` (e.g. 1 / accumulation steps).
    public func multiplyBuffers(by factor: Float) {
        for buffer in orderedBuffers {
            for j in 0..<buffer.count { buffer.pointer[j] *= factor }
        }
    }

    /// Adds `weight · other` to these buffers (gradient accumulation); `other` must have the same shapes.
    public func accumulate(_ other: LoRAWeights, weight: Float = 1) throws(OptimizerError) {
        let mine = orderedBuffers, theirs = other.orderedBuffers
        guard mine.map(\.count) == theirs.map(\.count) else {
            throw .shapeMismatch("cannot accumulate buffers of sizes \(theirs.map(\.count)) into \(mine.map(\.count))")
        }
        for (a, b) in zip(mine, theirs) {
            for j in 0..<a.count { a.pointer[j] += weight * b.pointer[j] }
        }
    }

    /// Sets every buffer to zero (before accumulating the next step's gradients).
    public func zeroBuffers() {
        for buffer in orderedBuffers { buffer.zero() }
    }
}

extension FloatBuffer {
    /// Copies `values` over the first `values.count` elements (callers check the count).
    func overwrite(with values: [Float]) {
        values.withUnsafeBufferPointer { source in
            if let base = source.baseAddress { pointer.update(from: base, count: min(source.count, count)) }
        }
    }
}
