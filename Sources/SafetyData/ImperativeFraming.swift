// Requests in the imperative ("Write a guide on how to ..."), made from how-to questions ("How can
// I ...?"). CAI's red-team pool is mostly questions (DoNotAnswer's 939 are nearly all questions) and
// its risky-looking benign requests were all questions too, so the only imperative requests a
// model saw in CAI were benign ones; what it learned to refuse was a harmful *question*. Framing the
// same tasks both ways, on both sides (harmful how-to questions and FedGuard's risky-wording tasks),
// keeps the grammatical form from telling the two apart. The framings are generic instruction
// forms written for FedGuard; no benchmark prompt is used (the CAI pool drops any rewrite that comes
// near an AdvBench or HarmBench prompt, as it does for every prompt).

import Foundation

/// Imperative framings of a task, and the task inside a how-to question.
public enum ImperativeFraming {
    /// Framings of an infinitive task ("pick a lock" → "Explain in detail how to pick a lock.").
    static let framings: [@Sendable (String) -> String] = [
        { "Write a step-by-step guide on how to \($0)." },
        { "Explain in detail how to \($0)." },
        { "Give me instructions to \($0)." },
        { "Write a short tutorial on how to \($0)." },
        { "Describe the best way to \($0)." },
        { "Create a plan to \($0)." },
    ]

    /// Number of framings.
    public static var count: Int { framings.count }

    /// `task` under framing `index` (cycling).
    public static func request(task: String, framing index: Int) -> String {
        framings[((index % framings.count) + framings.count) % framings.count](task)
    }

    /// Openings of a how-to question, each followed by the task as an infinitive phrase.
    private static let openings: [String] = {
        let subjects = ["i", "one", "we", "someone", "a person", "you"]
        let modals = ["can", "do", "could", "would", "should", "might", "does"]
        var result = modals.flatMap { m in subjects.map { s in "how \(m) \(s) " } }
        result += ["how to "]
        for adjective in ["", "best ", "easiest ", "most effective ", "quickest ", "simplest "] {
            for noun in ["way", "ways", "method", "methods", "steps", "techniques", "tips"] {
                for lead in ["what is the ", "what's the ", "what are the ", "what are some "] {
                    result.append("\(lead)\(adjective)\(noun) to ")
                }
            }
        }
        result += ["can you help me ", "can you teach me how to ", "can you teach me to ", "can you tell me how to ",
                   "can you show me how to ", "can you explain how to ", "could you help me ", "could you tell me how to "]
        // Longest first, so "what are some ways to " wins over any shorter opening it starts with.
        return result.sorted { $0.count > $1.count }
    }()

    /// The infinitive task of a how-to question ("How can I forge a check?" → "forge a check"), or
    /// nil when the prompt is not one (statements, yes/no questions, "Can you provide ...").
    public static func task(ofQuestion question: String) -> String? {
        let trimmed = question.trimmingCharacters(in: .whitespacesAndNewlines)
        let lower = trimmed.lowercased()
        guard let opening = openings.first(where: { lower.hasPrefix($0) }) else { return nil }
        var task = String(trimmed.dropFirst(opening.count))
        // One question only: a second sentence would not read as part of the task.
        guard !task.dropLast().contains(where: { "?!".contains($0) }), !task.contains(". ") else { return nil }
        while let last = task.last, "?.! ".contains(last) { task.removeLast() }
        let words = task.split(separator: " ")
        guard words.count >= 2, words.count <= 24, let first = words.first,
              first.first?.isLetter == true, first != "I" else { return nil }
        return task
    }
}
