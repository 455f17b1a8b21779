// SafetyFilter: the client-side safety filter of Noh & Baek's "Responsible Federated LLMs via
// Safety Filtering and Constitutional AI". Before local training each client judges every
// (prompt, response) pair of its own data and drops the harmful ones; nothing leaves the client
// but counts.
//
// - ``SafetyJudge``: a conversation → P(unsafe) and a hazard category (``HazardCategory``, Llama
//   Guard 3's S1–S14); a ``FilterThreshold`` decides. The unit is the pair: a refusal of a
//   harmful request is safe, harmful compliance is unsafe, a benign exchange is safe.
// - Two judges: ``EmbeddingJudge`` (all-MiniLM-L6-v2 embeddings of prompt and response, a small
//   head trained in Swift) and ``GuardJudge`` (an LLM judge in Llama Guard 3's format, zero-shot
//   or LoRA fine-tuned).
// - ``LabelledPairSet``: labelled pairs from the pinned data sets, split by source and by prompt
//   into train / validation / test; the test split is never trained or tuned on.
// - ``FilterMetrics``: precision, recall, F1, ROC-AUC with Wilson intervals, per source and
//   per category.
//
// The library never prints and never logs a pair's text (it may be harmful).

import Foundation

/// Namespace for the safety filter (see the module's files).
public enum SafetyFilter {}

/// Llama Guard 3's hazard taxonomy (MLCommons AI Safety v0.5), the categories a judge names for an
/// unsafe conversation.
/// reference: Llama Guard 3 model card, "Hazard Taxonomy and Policy".
public enum HazardCategory: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    case violentCrimes = "S1"
    case nonViolentCrimes = "S2"
    case sexRelatedCrimes = "S3"
    case childSexualExploitation = "S4"
    case defamation = "S5"
    case specializedAdvice = "S6"
    case privacy = "S7"
    case intellectualProperty = "S8"
    case indiscriminateWeapons = "S9"
    case hate = "S10"
    case suicideAndSelfHarm = "S11"
    case sexualContent = "S12"
    case elections = "S13"
    case codeInterpreterAbuse = "S14"

    /// The code, `S1` … `S14`.
    public var code: String { rawValue }

    /// The category's title as the Llama Guard 3 prompt writes it.
    public var title: String {
        switch self {
        case .violentCrimes: return "Violent Crimes."
        case .nonViolentCrimes: return "Non-Violent Crimes."
        case .sexRelatedCrimes: return "Sex Crimes."
        case .childSexualExploitation: return "Child Exploitation."
        case .defamation: return "Defamation."
        case .specializedAdvice: return "Specialized Advice."
        case .privacy: return "Privacy."
        case .intellectualProperty: return "Intellectual Property."
        case .indiscriminateWeapons: return "Indiscriminate Weapons."
        case .hate: return "Hate."
        case .suicideAndSelfHarm: return "Self-Harm."
        case .sexualContent: return "Sexual Content."
        case .elections: return "Elections."
        case .codeInterpreterAbuse: return "Code Interpreter Abuse."
        }
    }

    /// The 1-based number (S*n*).
    public var number: Int { Int(rawValue.dropFirst()) ?? 0 }

    /// Parses `S7`, `s7` or ` S7,` (surrounding punctuation and space are ignored).
    public init?(code: String) {
        let trimmed = code.trimmingCharacters(in: .whitespacesAndNewlines.union(.punctuationCharacters))
        self.init(rawValue: trimmed.uppercased())
    }

    public static func < (a: HazardCategory, b: HazardCategory) -> Bool { a.number < b.number }

    /// The hazard category of a data set's own category name (uncensorbench topics, PyRIT
    /// scorer-eval harm categories and file names), or nil when none fits: such pairs stay
    /// labelled unsafe without a category.
    public static func from(sourceCategory: String) -> HazardCategory? {
        let key = sourceCategory.lowercased().replacingOccurrences(of: "-", with: "_")
            .replacingOccurrences(of: " ", with: "_")
        return sourceCategoryMap[key]
    }

    /// Source category names → hazard categories. Names not listed (misinformation, bias
    /// without a protected group, ...) have no Llama Guard 3 counterpart.
    static let sourceCategoryMap: [String: HazardCategory] = [
        // uncensorbench topics
        "cybersecurity": .nonViolentCrimes, "piracy": .intellectualProperty, "weapons": .indiscriminateWeapons,
        "drugs": .nonViolentCrimes, "fraud": .nonViolentCrimes, "manipulation": .nonViolentCrimes,
        "violence": .violentCrimes, "privacy_invasion": .privacy, "illegal_activities": .nonViolentCrimes,
        "academic_dishonesty": .nonViolentCrimes, "gambling": .nonViolentCrimes, "controversial_speech": .hate,
        "evasion": .nonViolentCrimes, "self_harm": .suicideAndSelfHarm, "adult_content": .sexualContent,
        // PyRIT scorer-eval harm categories / file names
        "sexual": .sexualContent, "phishing": .nonViolentCrimes, "exploits": .codeInterpreterAbuse,
        "cyber": .nonViolentCrimes, "hate_speech": .hate, "mini_hate_speech": .hate,
        "chemical_biological": .indiscriminateWeapons, "harassment_bullying": .hate,
        "illegal_activity": .nonViolentCrimes, "privacy": .privacy, "violence_multi_score": .violentCrimes,
        "hate_speech_multi_score": .hate, "representational": .hate,
    ]
}
