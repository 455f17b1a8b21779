import Evaluation
import Testing

@Test func evaluationModuleLinks() { _ = Evaluation.self }
