"""A shorter first wait for Flower's object pulls (flwr 1.42.0).

Flower moves a message as its head first and its objects (an adapter's bytes) after, and a receiver
that asks for an object not there yet waits 1 s (±20%), doubling up to 10 s, before asking again
(`flwr.supercore.inflatable.inflatable_utils.pull_objects`, `PULL_INITIAL_BACKOFF`). In a FedGuard
round that race is lost on nearly every hop: the SuperNode sees the train message while the
ServerApp is still pushing the global adapter, and the ClientApp starts while its SuperNode is still
pulling it; each loss costs about a second for an object that arrives milliseconds later. This sets
the first wait to `seconds` (doubling as before, the same 10 s cap and the same number of tries, so
the same patience for slow links) in the process that calls it.
"""

from flwr.supercore.inflatable import inflatable_utils

INITIAL_BACKOFF_SECONDS = 0.05


def shorten_pull_backoff(seconds: float = INITIAL_BACKOFF_SECONDS) -> None:
    """Makes `seconds` the first retry wait of every object pull this process makes from now on."""
    for function in (inflatable_utils.pull_objects, inflatable_utils.pull_and_inflate_object_from_tree):
        defaults = function.__kwdefaults__
        if defaults is None or "initial_backoff" not in defaults:
            raise RuntimeError(f"flwr's {function.__name__} has no initial_backoff setting: made for flwr 1.42.0")
        defaults["initial_backoff"] = seconds
