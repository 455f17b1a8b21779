import Simulation

// Evaluation also has a `RunDirectory` and a `RoundRecord` (the report's view of a run); the
// experiment means the simulation's.

/// The simulation's run directory.
public typealias FederatedRunDirectory = RunDirectory
/// The simulation's round record.
public typealias FederatedRoundRecord = RoundRecord
