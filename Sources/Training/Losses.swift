import Engine

/// Validates the shared inputs of the loss functions and packs the batch.
/// With `sharePrefix`, the sequences' common leading tokens (a chat template's system prompt) are
/// packed and computed once (``PackedBatch``).
private func prepareBatch(model: LlamaModel, adapter: LoRAWeights?, gradients: LoRAWeights?,
                          sequences: [TrainingSequence], dropout: Float, sharePrefix: Bool) throws(TrainingInputError) -> PackedBatch {
    guard dropout >= 0 && dropout < 1 else { throw .invalidDropout(dropout) }
    if let adapter {
        try adapter.validate(for: model)
        try gradients?.validateAsGradient(of: adapter)
    }
    return try PackedBatch(sequences, vocabularySize: model.configuration.vocabularySize,
                           sharing: sharePrefix ? [Array(sequences.indices)] : [])
}

/// Supervised fine-tuning loss: the mean token cross-entropy over the target tokens of `sequences`,
/// and its LoRA gradients.
///
/// The sequences are packed into one batch (each attends only to itself, positions restart at 0).
/// With `sharePrefix` (the default) the tokens all of them begin with, up to the first target's
/// predecessor, are packed and computed once, the others attending to them as to their own: the
/// same loss and gradients up to floating-point summation order, for less work (the system prompt
/// of chat SFT data). LoRA dropout then draws one mask for the shared rows.
/// The gradients of `lossScale` × (that mean) are ADDED to `gradients` (a holder made by
/// `adapter.zerosLike()`, zeroed by the caller), so micro-batches accumulate; for a token-weighted
/// mean over several micro-batches pass `lossScale = targetTokens / totalTargetTokens`.
/// LoRA dropout with probability `dropout` is applied to every adapter input as PEFT does
/// (`lora_B(lora_A(dropout(x))) · scale`), with masks seeded from `rng`.
///
/// - Returns: the unscaled mean cross-entropy (nats per target token) and the number of target tokens.
/// - Throws: `TrainingInputError` for out-of-range tokens, a batch without targets, a dropout outside
///   [0, 1) or an adapter / gradient holder that does not fit.
/// reference: the causal-LM loss of HF transformers (`ForCausalLMLoss`, mean over non-ignored labels).
public func sftLossAndGradients(model: LlamaModel, adapter: LoRAWeights, sequences: [TrainingSequence],
                                gradients: LoRAWeights, dropout: Float = 0, rng: inout SeededGenerator,
                                lossScale: Float = 1, workspace: TrainingWorkspace? = nil, sharePrefix: Bool = true)
    throws(TrainingInputError) -> (loss: Double, targetTokens: Int) {
    let batch = try prepareBatch(model: model, adapter: adapter, gradients: gradients, sequences: sequences,
                                 dropout: dropout, sharePrefix: sharePrefix)
    let R = batch.headRowCount
    guard R > 0 else { throw .noTargets }
    let ws = workspace ?? TrainingWorkspace(model: model, tokens: batch.rowCount)
    // d(lossScale · mean(−logprob)) / d logprob_r = −lossScale / R for every head row: known before
    // the forward, so the head's gradient is taken there.
    let weights = Array(repeating: lossScale / Float(R), count: R)
    TrainingPass.forward(model: model, adapter: adapter, batch: batch, dropout: dropout, rng: &rng, workspace: ws,
                         headRowWeights: weights)
    let loss = -ws.targetLogProbabilities.reduce(0, +) / Double(R)
    TrainingPass.backward(model: model, adapter: adapter, gradients: gradients, batch: batch, rowWeights: weights,
                          dropout: dropout, workspace: ws)
    return (loss, R)
}

/// The mean cross-entropy over the target tokens of `sequences`, without gradients or dropout.
/// `adapter` nil evaluates the base model.
public func sftLoss(model: LlamaModel, adapter: LoRAWeights?, sequences: [TrainingSequence],
                    workspace: TrainingWorkspace? = nil) throws(TrainingInputError) -> (loss: Double, targetTokens: Int) {
    let logProbabilities = try sequenceLogProbabilities(model: model, adapter: adapter, sequences: sequences,
                                                        workspace: workspace)
    let targets = sequences.reduce(0) { $0 + $1.targetCount }
    guard targets > 0 else { throw .noTargets }
    return (-logProbabilities.reduce(0, +) / Double(targets), targets)
}

/// For each sequence, the sum of the log-probabilities of its target tokens (0 for a sequence
/// without targets), in nats. `adapter` nil evaluates the base model (the DPO reference model:
/// the same frozen weights, no second copy). No dropout. `sharePrefix` as in ``sftLossAndGradients``.
public func sequenceLogProbabilities(model: LlamaModel, adapter: LoRAWeights?, sequences: [TrainingSequence],
                                     workspace: TrainingWorkspace? = nil, sharePrefix: Bool = true) throws(TrainingInputError) -> [Double] {
    let batch = try prepareBatch(model: model, adapter: adapter, gradients: nil, sequences: sequences, dropout: 0,
                                 sharePrefix: sharePrefix)
    let ws = workspace ?? TrainingWorkspace(model: model, tokens: batch.rowCount)
    return TrainingPass.logProbabilitySums(model: model, adapter: adapter, batch: batch, workspace: ws)
}
