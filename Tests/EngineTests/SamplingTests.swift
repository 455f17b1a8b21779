import Engine
import Foundation
import Testing

struct SamplingTests {
    let logits: [Float] = [0.1, 2.0, -1.0, 1.9, 0.5, 2.0]

    @Test func greedyTakesTheFirstMaximumLikeTorchArgmax() {
        #expect(Sampler.argmax(logits[...]) == 1)
        var rng = SeededGenerator(seed: 1)
        #expect(Sampler().sample(logits[...], using: &rng) == 1)
    }

    @Test func sameSeedSameSamples() {
        let s = Sampler(temperature: 1.0)
        var a = SeededGenerator(seed: 42), b = SeededGenerator(seed: 42)
        let xs = (0..<200).map { _ in s.sample(logits[...], using: &a) }
        let ys = (0..<200).map { _ in s.sample(logits[...], using: &b) }
        #expect(xs == ys)
        var c = SeededGenerator(seed: 43)
        #expect(xs != (0..<200).map { _ in s.sample(logits[...], using: &c) })
    }

    @Test func topKOneAndTinyTopPAreGreedy() {
        var rng = SeededGenerator(seed: 7)
        for _ in 0..<100 {
            #expect(Sampler(temperature: 2, topK: 1).sample(logits[...], using: &rng) == 1)
            #expect(Sampler(temperature: 2, topP: 1e-6).sample(logits[...], using: &rng) == 1)
        }
    }

    @Test func topKRestrictsTheSupport() {
        var rng = SeededGenerator(seed: 3)
        let seen = Set((0..<500).map { _ in Sampler(temperature: 5, topK: 3).sample(logits[...], using: &rng) })
        #expect(seen == [1, 3, 5])
    }

    /// Frequencies follow softmax(logits / T) within sampling error.
    @Test func frequenciesFollowTheSoftmax() {
        let l: [Float] = [0, 1, 2]
        var rng = SeededGenerator(seed: 11)
        var counts = [0, 0, 0]
        let n = 20_000
        for _ in 0..<n { counts[Sampler(temperature: 1).sample(l[...], using: &rng)] += 1 }
        let z = exp(0.0) + exp(1.0) + exp(2.0)
        for i in 0..<3 {
            let expected = exp(Double(i)) / z
            #expect(abs(Double(counts[i]) / Double(n) - expected) < 0.015, "token \(i)")
        }
    }

    @Test func topPKeepsTheSmallestNucleus() {
        // probabilities ~ [0.09, 0.24, 0.67]: p = 0.6 keeps only the top token, 0.8 keeps two.
        let l: [Float] = [0, 1, 2]
        var rng = SeededGenerator(seed: 5)
        #expect(Set((0..<300).map { _ in Sampler(temperature: 1, topP: 0.6).sample(l[...], using: &rng) }) == [2])
        #expect(Set((0..<300).map { _ in Sampler(temperature: 1, topP: 0.8).sample(l[...], using: &rng) }) == [1, 2])
    }
}
