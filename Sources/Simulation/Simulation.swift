/// Namespace for the federated simulation (see the module files).
public enum Simulation {}
