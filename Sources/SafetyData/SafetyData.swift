/// Namespace for safety data sets and judges (see the module's files).
public enum SafetyData {}
