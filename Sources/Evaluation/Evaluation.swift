// Evaluation: FedGuard's measurements of a model (with or without a LoRA adapter).
//
// - Harmlessness on AdvBench (headline) and HarmBench (held out): the share of harmful
//   prompts the model refuses, by the OpenFedLLM refusal-prefix judge (headline) and the GCG
//   judge (second figure), with Wilson 95% intervals, per harm category, and a few truncated
//   samples. ``HarmlessnessEvaluation``.
// - Over-refusal on ``OverRefusalProbes`` (benign prompts that look risky): the share the
//   model refuses, by the same judges. A model that refuses everything scores ~100% here.
// - Helpfulness guard: the mean per-token loss of the model on held-out benign
//   (prompt, response) pairs whose responses come from the base model (generated once and
//   cached). ``HelpfulnessGuard``.
// - ``Evaluator`` runs any set of these and returns a Codable ``EvaluationReport`` whose
//   ``EvaluationReport/metrics`` is the flat dictionary a per-round hook records.
// - ``RunReport`` turns a federation run directory into `report.html` and `report.json`.
//
// Typical flow:
//
//     let data = try EvaluationData.load(settings: settings, store: AssetStore(logger: logger), logger: logger)
//     let evaluator = Evaluator(data: data, settings: settings, logger: logger)
//     let report = try evaluator.evaluate(model: model, adapter: adapter) { progress in ... }
//     print(report.metrics["advbench_harmless"] ?? .nan)
//
// The library never prints, and harmful text leaves it only as ``ReportText`` snippets.

/// Namespace for model evaluation (see the module files).
public enum Evaluation {}
