/// Namespace for model evaluation (see the module files).
public enum Evaluation {}
