"""Checks: the framework (base, conditions, registry) and one module per check family."""
