/// Namespace for the federated-learning core (see the module's files).
public enum Federation {}
