"""Code shared by every stage: configuration, registries and the data contract.

Stages import from here and never from each other.
"""
