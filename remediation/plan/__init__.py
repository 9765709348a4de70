"""Plan stage: non-compliant states -> concrete ARM operations in a dependency graph."""
