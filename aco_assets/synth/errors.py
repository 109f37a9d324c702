"""The synthetic archive's error type (its own module so that every generator can raise it)."""


class SynthError(ValueError):
    """Invalid generator parameters or inputs (unknown preset, bad day count, missing recording).

    The message is meant for the command line: ``aco synth`` prints it and exits with status 2.
    """
