import CKernels
import Engine
import Foundation
import Testing
@testable import Training

/// Training gives the same bits whatever the thread count: the team cuts element-wise kernels'
/// ranges at places that depend on it, so every element must get the same arithmetic wherever a
/// range starts or ends.
struct ThreadCountTests {
    /// The SwiGLU backward over one range equals the same range cut at places that are not
    /// multiples of the vector width (as 2-4 threads cut 6-16 chunks), bit for bit.
    @Test func swigluBackwardDoesNotDependOnWhereTheRangeIsCut() {
        let n = 1001
        let gate = (0..<n).map { Float(sin(Double($0) * 0.7)) * 4 }, up = (0..<n).map { Float(cos(Double($0) * 0.3)) }
        let dout = (0..<n).map { Float(sin(Double($0) * 1.3)) }
        var dGate = [Float](repeating: .nan, count: n), dUp = dGate, cutGate = dGate, cutUp = dGate
        fg_swiglu_backward(&dGate, &dUp, dout, gate, up, Int64(n))
        let cuts = Array(stride(from: 0, to: n, by: 13)) + [n]
        for (a, b) in zip(cuts, cuts.dropFirst()) {
            cutGate.withUnsafeMutableBufferPointer { g in cutUp.withUnsafeMutableBufferPointer { u in
                dout.withUnsafeBufferPointer { d in gate.withUnsafeBufferPointer { ga in up.withUnsafeBufferPointer { upb in
                    fg_swiglu_backward(g.baseAddress! + a, u.baseAddress! + a, d.baseAddress! + a, ga.baseAddress! + a,
                                       upb.baseAddress! + a, Int64(b - a))
                } } }
            } }
        }
        let sameGate = cutGate == dGate, sameUp = cutUp == dUp
        #expect(sameGate && sameUp)
    }

    /// DPO on five pairs with 150-token prompts (enough rows that the element-wise kernels are split
    /// over the team) trains the same adapter on 1, 2 and 3 threads. Before the SwiGLU backward's
    /// tail took the vector code, 1 thread gave other bits than 2-4 (whose chunk counts coincide),
    /// which made a CAI test fail when another test changed the thread count meanwhile.
    @Test func dpoTrainsTheSameAdapterOnAnyThreadCount() throws {
        let model = try TrainingFixtures.loadTinyModel()
        let lora = LoRAConfiguration(rank: 4, alpha: 8, targets: [.query, .value, .gate, .up, .down])
        let start = LoRAWeights.initialized(for: model, configuration: lora, seed: 3)
        let prompt = (1...150).map { $0 % 60 + 1 }
        let pairs = try (0..<5).map { k in
            PreferenceSequences(chosen: try TrainingSequence(tokens: prompt.map { $0 + k } + [30, 31, 32, 33],
                                                             targetMask: prompt.map { _ in false } + [true, true, true, true]),
                                rejected: try TrainingSequence(tokens: prompt.map { $0 + k } + [40, 41, 42],
                                                               targetMask: prompt.map { _ in false } + [true, true, true]),
                                promptLength: prompt.count)
        }
        var parameters = TrainerParameters()
        parameters.seed = 1
        parameters.epochs = 2
        parameters.tokensPerBatch = 2048
        let previous = Parallel.threadCount
        defer { Parallel.setThreadCount(previous) }
        var adapters: [[Float]] = []
        for threads in [1, 2, 3] {
            Parallel.setThreadCount(threads)
            let adapter = start.copy()
            let trainer = LoRATrainer(model: model, adapter: adapter, loraConfiguration: lora, parameters: parameters)
            _ = try trainer.trainDPO(pairs, reference: start) { _ in true }
            adapters.append(adapter.orderedBuffers.flatMap { b in (0..<b.count).map { b.pointer[$0] } })
        }
        let trained = adapters[0] != start.orderedBuffers.flatMap { b in (0..<b.count).map { b.pointer[$0] } }
        let oneAndTwo = adapters[0] == adapters[1], twoAndThree = adapters[1] == adapters[2]
        #expect(trained)
        #expect(oneAndTwo, "1 and 2 threads trained different adapters")
        #expect(twoAndThree, "2 and 3 threads trained different adapters")
    }
}
