"""Acceptance specs for policy authors: a Gherkin step library and the runner behind ``arcpolicy spec``.

A policy team writes ``.feature`` files next to its policies, in plain sentences::

    Given a connected cluster "store-1" running "k3s" in "eastus"
    And it has the extension "microsoft.flux" on the "Stable" train
    When the fleet is scanned with the policy "policies/flux.rego"
    Then "store-1" is compliant with "flux"

and runs them with ``arcpolicy spec DIR`` (or plain pytest: the ``arcpolicy`` pytest plugin
ships the steps). The steps build a fleet in memory, write it as a snapshot and drive the real
CLI; see docs/specs.md for every step.

Modules: :mod:`engine.spec.fleet` (the fleet builder), :mod:`engine.spec.world` (one scenario's
state, the CLI runs and the assertions), :mod:`engine.spec.steps` (the step definitions),
:mod:`engine.spec.plugin` (the pytest plugin), :mod:`engine.spec.runner` (``arcpolicy spec``).
"""
