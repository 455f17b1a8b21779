"""FedGuard on Flower: a ServerApp and a ClientApp that run the `fedguard` binary."""
